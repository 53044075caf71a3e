"""The hosting admin console: spaces, accounts, audit log."""
