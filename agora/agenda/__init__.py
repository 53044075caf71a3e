"""Shared agenda: events, recurrence, views across spaces, iCal subscription feeds."""
