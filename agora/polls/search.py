"""What the polls module gives the search index: polls, with their description and options."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from agora.core.registry import Entry, entry_key
from agora.extensions import db
from agora.polls.models import Poll, PollOption


def poll_entry(poll_id: int, full: bool = True, **_options) -> Entry | None:
    """A poll, with its description and options (unless full is False: a hit shows its question)."""
    poll = db.session.get(Poll, poll_id)
    if poll is None:
        return None
    labels = " ".join(db.session.scalars(select(PollOption.label).where(PollOption.poll_id == poll.id))) if full else ""
    return Entry(
        entry_key("polls.poll", poll.id),
        "polls.poll",
        "polls",
        poll.space_id,
        poll.id,
        poll.question,
        f"{poll.description}\n{labels}",
        poll.created_at,
    )


def poll_url(slug: str, object_id: int, _entry: Entry) -> str:
    return url_for("polls.show_poll", slug=slug, poll_id=object_id)
