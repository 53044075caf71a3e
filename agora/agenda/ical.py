"""iCalendar feeds (RFC 5545, RFC 7986) that Google, Outlook, Apple, Thunderbird and DAVx5 read right.

Series go out as one VEVENT with RRULE and EXDATE in the event's own zone (TZID), so every
client expands them itself; each TZID used gets a VTIMEZONE of yearly rules (see vtimezone.py),
right in every engine for every date of the feed, series without end included.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, vRecur
from icalendar import Event as VEvent
from sqlalchemy import func, select

from agora.agenda.models import Event
from agora.agenda.recurrence import shape_problem
from agora.agenda.services import overrides_of, window_events
from agora.agenda.vtimezone import vtimezone
from agora.core.time import utcnow
from agora.extensions import db
from agora.spaces.models import Space

#: What a feed carries: one year back, two years ahead.
PAST = timedelta(days=365)
FUTURE = timedelta(days=730)
REFRESH = timedelta(hours=1)
#: Part of every feed's version: raised when the feed is written differently, so that caches let go.
FORMAT = 2


def feed_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or utcnow()
    return now - PAST, now + FUTURE


def feed_version(space_ids: list[int], name: str, now: datetime | None = None) -> tuple[str, datetime | None]:
    """Return (ETag, Last-Modified) for a feed with one cheap query, so a 304 costs almost nothing."""
    if not space_ids:
        return hashlib.sha256(f"empty:{name}".encode()).hexdigest()[:32], None
    latest, count, ids, top = db.session.execute(
        select(
            func.max(Event.updated_at), func.count(), func.coalesce(func.sum(Event.id), 0), func.max(Event.id)
        ).where(Event.space_id.in_(space_ids))
    ).one()
    # Space names appear in the all-spaces feed: a rename must change the version too.
    names = db.session.scalars(select(Space.name).where(Space.id.in_(space_ids)).order_by(Space.id)).all()
    start, _end = feed_window(now)
    # The window moves daily: include its first day so old events drop out of cached copies.
    key = f"{FORMAT}:{name}:{sorted(space_ids)}:{latest}:{count}:{ids}:{top}:{names}:{start.date()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32], latest


def _local(value: datetime, event: Event):
    local = value.astimezone(ZoneInfo(event.tz))
    return local.date() if event.all_day else local


def feed_uid(event: Event, all_spaces: bool) -> str:
    """The event's UID in a feed: as stored, or in the all-spaces feed qualified by its space.

    A file imported into two spaces stores its UIDs in both, and engines that meet one UID twice in
    a feed keep one copy; the space's id (never reused) keeps the UID the same on every fetch.
    """
    return f"space{event.space_id}-{event.uid}" if all_spaces else event.uid


def _vevent(event: Event, all_spaces: bool = False) -> VEvent:
    item = VEvent()
    item.add("uid", feed_uid(event, all_spaces))
    item.add("dtstamp", event.updated_at)
    item.add("created", event.created_at)
    item.add("last-modified", event.updated_at)
    item.add("sequence", event.sequence)
    summary = f"[{event.space.name}] {event.title}" if all_spaces else event.title
    item.add("summary", summary)
    item.add("dtstart", _local(event.starts_at, event))
    item.add("dtend", _local(event.ends_at, event))
    text = event.description
    if event.location:
        item.add("location", event.location)
        text = f"{text}\n\n📍 {event.location}".strip()
    if event.url:
        item.add("url", event.url)
        text = f"{text}\n\n{event.url}".strip()
    if text:
        item.add("description", text)
    if event.category:
        item.add("categories", [event.category.name])
    if event.recurrence_id is not None:
        item.add("recurrence-id", _local(event.recurrence_id, event))
    # A stored rule the agenda's own check refuses (a row older than the check) would stall calendar
    # apps as it would our pages: it goes out as its first date only, as the agenda shows it.
    repeats = bool(event.rrule) and shape_problem(event.rrule) is None
    if repeats:
        item.add("rrule", vRecur.from_ical(event.rrule))
    if event.rdates:
        item.add("rdate", [_local(datetime.fromisoformat(x), event) for x in sorted(event.rdates)])
    if (repeats or event.rdates) and event.exdates:
        item.add("exdate", [_local(datetime.fromisoformat(x), event) for x in sorted(event.exdates)])
    item.add("transp", "OPAQUE")
    return item


def _add_timezones(cal: Calendar, events: list[Event]) -> None:
    """Put first the VTIMEZONE of each zone the events use, right from their earliest start on."""
    since: dict[str, datetime] = {}
    for event in events:
        if not event.all_day:
            since[event.tz] = min(since.get(event.tz, event.starts_at), event.starts_at)
    used = cal.get_used_tzids()
    cal.subcomponents[:0] = [vtimezone(name, since[name]) for name in sorted(used & since.keys())]


def task_vevent(task) -> VEvent:
    """A task's due date as an all-day event named after the task."""
    item = VEvent()
    item.add("uid", f"task-{task.id}@agora")
    item.add("dtstamp", task.updated_at)
    item.add("last-modified", task.updated_at)
    item.add("summary", task.title)
    item.add("dtstart", task.due_on)
    item.add("dtend", task.due_on + timedelta(days=1))
    item.add("description", f"{task.space.name} — {task.task_list.name}")
    item.add("transp", "TRANSPARENT")
    return item


def build_feed(
    space_ids: list[int],
    name: str,
    *,
    prefix_space_names: bool = False,
    now: datetime | None = None,
    tasks: list | None = None,
) -> bytes:
    """Return the iCalendar text of the spaces' events in the feed window.

    `prefix_space_names` makes the all-spaces feed: each title names its space, each UID too.
    """
    start, end = feed_window(now)
    cal = Calendar()
    cal.add("prodid", "-//Agora//Agenda partagé//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    masters = window_events(space_ids, start, end)
    events = masters + overrides_of(masters)
    for event in events:
        cal.add_component(_vevent(event, all_spaces=prefix_space_names))
    for task in tasks or []:
        cal.add_component(task_vevent(task))
    _add_timezones(cal, events)
    return cal.to_ical()


def event_calendar(events: list[Event]) -> bytes:
    """An iCalendar file of these events (with their changed dates), joined to notification mails."""
    cal = Calendar()
    cal.add("prodid", "-//Agora//Agenda partagé//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    masters = [e for e in events if e.parent_id is None]
    changed = [e for e in events if e.parent_id is not None]
    events = masters + [e for e in overrides_of(masters) if e not in changed] + changed
    for event in events:
        cal.add_component(_vevent(event))
    _add_timezones(cal, events)
    return cal.to_ical()
