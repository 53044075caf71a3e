"""Spaces: the rooms of the neighbourhood, their members, invitations, news and activity."""
