"""Notifications: in-app items with a bell, preferences per kind and space, mails at once or in digests."""
