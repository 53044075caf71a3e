"""What the polls show on other pages: the open polls on a space's home."""

from __future__ import annotations

from agora.polls.services import open_polls


def home_panel(space, user) -> dict | None:
    """The polls open now, closing soonest first."""
    polls = open_polls(space)
    return {"polls": polls} if polls else None
