"""What the agenda gives the search index: events, with their place and description."""

from __future__ import annotations

from flask import url_for

from agora.agenda.models import Event
from agora.core.registry import Entry, entry_key
from agora.extensions import db


def event_entry(event_id: int, **_options) -> Entry | None:
    event = db.session.get(Event, event_id)
    if event is None:
        return None
    return Entry(
        entry_key("agenda.event", event.id),
        "agenda.event",
        "agenda",
        event.space_id,
        event.id,
        event.title,
        f"{event.location}\n{event.description}",
        event.starts_at,
    )


def event_url(slug: str, object_id: int, _entry: Entry) -> str:
    return url_for("agenda.show_event", slug=slug, event_id=object_id)
