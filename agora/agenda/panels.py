"""What the agenda shows on other pages: the next events on a space's home, my calendar
subscriptions on my profile."""

from __future__ import annotations

from datetime import timedelta

from agora.agenda.services import occurrences, user_tokens
from agora.core.time import utcnow

HOME_DAYS = 30
HOME_EVENTS = 5


def home_panel(space, user) -> dict | None:
    """The first events of the coming month in the space."""
    now = utcnow()
    upcoming = occurrences([space.id], now, now + timedelta(days=HOME_DAYS))[:HOME_EVENTS]
    return {"upcoming": upcoming} if upcoming else None


def profile_panel(space, user) -> dict:
    """My subscription addresses, shown even when there is none (the panel says where to make one)."""
    return {"tokens": user_tokens(user)}
