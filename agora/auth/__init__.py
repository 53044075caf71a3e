"""Accounts: login, profile, passwords, setup and reset links, throttling, audit log."""
