"""Agenda services: saving events and series, expanding occurrences, cancelling one, feed tokens.

Recurrence is RFC 5545 RRULE evaluated on wall-clock time in the event's zone (python-dateutil),
so "every Tuesday at 18:00" stays at 18:00 across daylight-saving changes.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from agora.agenda.models import Booking, Event, EventCategory, IcalToken, Resource
from agora.agenda.recurrence import MAX_OCCURRENCES, MAX_SERIES_SPAN, local_starts, rule_problem, window_starts
from agora.auth.models import User
from agora.auth.services import hash_token
from agora.core.events import after_commit
from agora.core.richtext import render_markdown
from agora.core.services import ServiceError, one_line
from agora.core.time import MAX_YEAR, MIN_YEAR, utcnow
from agora.extensions import db
from agora.spaces.models import Membership, Space
from agora.spaces.services import COLOUR_RE, record_activity
from agora.spaces.tenancy import membership_in

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
REPEATS = ("none", "daily", "weekly", "monthly_date", "monthly_weekday", "yearly")


@dataclass
class EventData:
    """What a form (or an import) gives to save an event, in the event's own zone."""

    title: str
    start_date: date
    end_date: date
    start_time: time | None = None
    end_time: time | None = None
    all_day: bool = False
    tz: str = "Europe/Paris"
    description: str = ""
    location: str = ""
    url: str = ""
    category_id: int | None = None
    repeat: str = "none"
    interval: int = 1
    weekdays: tuple[str, ...] = ()
    until: date | None = None
    count: int | None = None
    resource_ids: tuple[int, ...] = ()


@dataclass
class Occurrence:
    event: Event
    start: datetime  #: aware, UTC
    end: datetime
    #: The original start of this occurrence in its series (UTC), None for a single event.
    recurrence_id: datetime | None = None

    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.event.tz))

    def local_end(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.event.tz))

    @property
    def key(self) -> str:
        """Identifies the occurrence in URLs: its original start as a UTC timestamp."""
        return (self.recurrence_id or self.start).strftime("%Y%m%dT%H%M%SZ")


def parse_until(value: str) -> date:
    """The last day of an RRULE's UNTIL (a DATE, or a UTC DATE-TIME), as a date."""
    if "T" not in value:
        return datetime.strptime(value, "%Y%m%d").date()
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).date()


def local_day(occurrence: Occurrence, viewer_zone: ZoneInfo) -> date:
    """The day an occurrence shows on: an all-day event's own date, a timed one in the reader's zone."""
    if occurrence.event.all_day:
        return occurrence.start.astimezone(ZoneInfo(occurrence.event.tz)).date()
    return occurrence.start.astimezone(viewer_zone).date()


def last_local_day(occurrence: Occurrence, viewer_zone: ZoneInfo) -> date:
    zone_ = ZoneInfo(occurrence.event.tz) if occurrence.event.all_day else viewer_zone
    return (occurrence.end - timedelta(seconds=1)).astimezone(zone_).date()


def parse_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise ServiceError(_l("Ce fuseau horaire n'existe pas."), field="tz") from None


def build_rrule(data: EventData, local_start: datetime) -> str | None:
    """Return the RRULE text for the form's repeat choice, or None for a single event."""
    if data.repeat == "none":
        return None
    if data.repeat not in REPEATS:
        raise ServiceError(_l("Ce type de répétition n'existe pas."), field="repeat")
    if not 1 <= data.interval <= 99:
        raise ServiceError(_l("L'intervalle doit aller de 1 à 99."), field="interval")
    parts = {
        "daily": ["FREQ=DAILY"],
        "weekly": ["FREQ=WEEKLY"],
        "monthly_date": ["FREQ=MONTHLY"],
        "monthly_weekday": ["FREQ=MONTHLY"],
        "yearly": ["FREQ=YEARLY"],
    }[data.repeat]
    if data.interval > 1:
        parts.append(f"INTERVAL={data.interval}")
    if data.repeat == "weekly":
        days = [d for d in WEEKDAYS if d in data.weekdays] or [WEEKDAYS[local_start.weekday()]]
        parts.append("BYDAY=" + ",".join(days))
    if data.repeat == "monthly_date":
        parts.append(f"BYMONTHDAY={local_start.day}")
    if data.repeat == "monthly_weekday":
        nth = (local_start.day - 1) // 7 + 1
        nth = -1 if nth == 5 else nth  # "the last Friday" rather than a fifth that most months lack
        parts.append(f"BYDAY={nth}{WEEKDAYS[local_start.weekday()]}")
    if data.count is not None:
        if not 1 <= data.count <= MAX_OCCURRENCES:
            raise ServiceError(_l("Le nombre de fois doit aller de 1 à %(n)s.", n=MAX_OCCURRENCES), field="count")
        parts.append(f"COUNT={data.count}")
    elif data.until is not None:
        if data.until < local_start.date():
            raise ServiceError(_l("La date de fin de la répétition est avant le début."), field="until")
        if data.until > local_start.date() + MAX_SERIES_SPAN:
            raise ServiceError(_l("Une répétition ne peut pas durer plus de dix ans."), field="until")
        if data.all_day:  # RFC 5545: UNTIL has DTSTART's value type, here a DATE
            parts.append("UNTIL=" + data.until.strftime("%Y%m%d"))
        else:
            until_local = datetime.combine(data.until, time(23, 59, 59), tzinfo=local_start.tzinfo)
            parts.append("UNTIL=" + until_local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


def _local_starts(event: Event, after: datetime | None = None, before: datetime | None = None) -> list[datetime]:
    """The series' starts (naive, in its zone), through the one bounded expansion (kept per month for a window)."""
    if after is not None and before is not None:
        return window_starts(event.rrule, event.starts_at, event.tz, after, before)
    return local_starts(event.rrule, event.starts_at, event.tz, after=after, before=before)


def _series_until(event: Event) -> datetime | None:
    """The last start of a bounded series (UTC, its extra dates included), None for an endless one."""
    extra = [datetime.fromisoformat(x) for x in event.rdates or []]
    if event.rrule and ("COUNT=" in event.rrule or "UNTIL=" in event.rrule):
        tz = ZoneInfo(event.tz)
        starts = _local_starts(event)
        extra += [starts[-1].replace(tzinfo=tz).astimezone(UTC)] if starts else []
    elif event.rrule:
        return None
    return max(extra, default=None)


def check_rule(text: str, starts_at: datetime, tz: str) -> None:
    """Raise ServiceError (on the repeat field) when a rule cannot be saved; the form and imports both call it."""
    problem = rule_problem(text, starts_at, tz)
    if problem is not None:
        raise ServiceError(problem, field="repeat")


def get_category(space: Space, category_id: int | None) -> EventCategory | None:
    if not category_id:
        return None
    return db.session.scalar(
        select(EventCategory).where(EventCategory.id == category_id, EventCategory.space_id == space.id)
    )


def list_categories(space: Space) -> list[EventCategory]:
    return list(
        db.session.scalars(select(EventCategory).where(EventCategory.space_id == space.id).order_by(EventCategory.name))
    )


def save_category(space: Space, *, name: str, colour: str) -> EventCategory:
    name = one_line(name)[:80]
    if not name:
        raise ServiceError(_l("Donnez un nom à la catégorie."), field="name")
    if not COLOUR_RE.match(colour):
        raise ServiceError(_l("La couleur doit être au format #RRVVBB."), field="colour")
    if db.session.scalar(
        select(EventCategory.id).where(EventCategory.space_id == space.id, EventCategory.name == name)
    ):
        raise ServiceError(_l("Une catégorie porte déjà ce nom."), field="name", status=409)
    category = EventCategory(space_id=space.id, name=name, colour=colour.lower())
    db.session.add(category)
    db.session.flush()
    return category


def _apply(space: Space, event: Event, data: EventData) -> None:
    title = one_line(data.title)[:200]
    if not title:
        raise ServiceError(_l("Donnez un titre à l'événement."), field="title")
    tz = zone(data.tz)
    for day in (data.start_date, data.end_date):
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ServiceError(
                _l("Choisissez une date entre %(a)s et %(b)s.", a=MIN_YEAR, b=MAX_YEAR), field="start_date"
            )
    if data.all_day:
        start_local = datetime.combine(data.start_date, time(0), tzinfo=tz)
        end_local = datetime.combine(data.end_date + timedelta(days=1), time(0), tzinfo=tz)
    else:
        if data.start_time is None or data.end_time is None:
            raise ServiceError(
                _l("Indiquez l'heure de début et de fin, ou cochez « toute la journée »."), field="start_time"
            )
        start_local = datetime.combine(data.start_date, data.start_time, tzinfo=tz)
        end_local = datetime.combine(data.end_date, data.end_time, tzinfo=tz)
    if end_local < start_local:  # equal is a moment (a reminder, a deadline), as calendar files have them
        raise ServiceError(_l("La fin ne peut pas être avant le début."), field="end_date")
    if end_local - start_local > timedelta(days=366):
        raise ServiceError(_l("Un événement ne peut pas durer plus d'un an."), field="end_date")
    category = get_category(space, data.category_id)
    if data.category_id and category is None:
        raise ServiceError(_l("Cette catégorie n'existe pas dans cet espace."), field="category")
    url = one_line(data.url)[:500]
    if url and not url.lower().startswith(("https://", "http://")):
        raise ServiceError(_l("Le lien doit commencer par https:// ou http://."), field="url")
    event.title, event.tz, event.all_day = title, data.tz, data.all_day
    event.description = (data.description or "").strip()[:20000]
    event.description_html = str(render_markdown(event.description))
    event.location, event.url = one_line(data.location)[:300], url
    event.category_id = category.id if category else None
    event.starts_at, event.ends_at = start_local.astimezone(UTC), end_local.astimezone(UTC)
    event.rrule = build_rrule(data, start_local)
    if event.rrule:
        check_rule(event.rrule, event.starts_at, data.tz)
    event.series_until = _series_until(event)
    if event.parent_id is None:
        _book(space, event, data.resource_ids)
    else:  # a changed date keeps its series' resources: it must not move onto someone else's booking
        parent = db.session.get(Event, event.parent_id)
        _check_clashes(space, event, [b.resource for b in parent.bookings])


# Resources --------------------------------------------------------------------------------

#: How far ahead an endless series is checked against other bookings.
BOOKING_HORIZON = timedelta(days=730)


def list_resources(space: Space) -> list[Resource]:
    return list(db.session.scalars(select(Resource).where(Resource.space_id == space.id).order_by(Resource.name)))


def save_resource(space: Space, *, name: str, description: str) -> Resource:
    name = one_line(name)[:120]
    if not name:
        raise ServiceError(_l("Donnez un nom à la ressource."), field="name")
    if db.session.scalar(select(Resource.id).where(Resource.space_id == space.id, Resource.name == name)):
        raise ServiceError(_l("Une ressource porte déjà ce nom."), field="name", status=409)
    resource = Resource(space_id=space.id, name=name, description=(description or "").strip()[:2000])
    db.session.add(resource)
    db.session.flush()
    return resource


def _book(space: Space, event: Event, resource_ids: tuple[int, ...]) -> None:
    """Give the event exactly these resources of the space, refusing a clash with another booking."""
    wanted = set(resource_ids)
    resources = (
        list(db.session.scalars(select(Resource).where(Resource.space_id == space.id, Resource.id.in_(wanted))))
        if wanted
        else []
    )
    if len(resources) != len(wanted):
        raise ServiceError(_l("Cette ressource n'existe pas dans cet espace."), field="resources")
    _check_clashes(space, event, resources)
    kept = {b.resource_id for b in event.bookings if b.resource_id in wanted}
    event.bookings = [b for b in event.bookings if b.resource_id in wanted] + [
        Booking(space_id=space.id, resource_id=r.id) for r in resources if r.id not in kept
    ]


def _check_clashes(space: Space, event: Event, resources: list[Resource]) -> None:
    if not resources:
        return
    start = event.starts_at
    end = (event.series_until + (event.ends_at - event.starts_at)) if event.series_until else start + BOOKING_HORIZON
    end = max(end, event.ends_at)
    mine = expand(event, start, end) if event.rrule else [Occurrence(event, event.starts_at, event.ends_at)]
    if not mine:
        return
    by_id = {r.id: r for r in resources}
    rows = db.session.execute(
        select(Booking.resource_id, Event)
        .join(Event, Event.id == Booking.event_id)
        .where(
            Booking.resource_id.in_(by_id),
            Event.space_id == space.id,
            Event.starts_at < end,
            Event.id.not_in({event.id or 0, event.parent_id or 0}),
        )
    ).all()
    others = [(rid, other) for rid, other in rows]
    if not others:
        return
    overrides = overrides_of([o for _rid, o in others])
    replaced: dict[int, set[datetime]] = {}
    for child in overrides:
        replaced.setdefault(child.parent_id, set()).add(child.recurrence_id)
    for resource_id, other in others:
        taken = expand(other, start, end, frozenset(replaced.get(other.id, ())))
        taken += [
            Occurrence(c, c.starts_at, c.ends_at)
            for c in overrides
            if c.parent_id == other.id and c.starts_at < end and c.ends_at > start
        ]
        for busy in taken:
            for wanted in mine:
                if wanted.start < busy.end and busy.start < wanted.end:
                    from flask_babel import format_datetime

                    raise ServiceError(
                        _l(
                            "« %(resource)s » est déjà réservé par « %(title)s » le %(when)s.",
                            resource=by_id[resource_id].name,
                            title=busy.event.title,
                            when=format_datetime(busy.start, "short"),
                        ),
                        field="resources",
                        status=409,
                    )


def notify_event(space: Space, event: Event, actor: User, verb: str) -> None:
    """Tell the space's members that an event was added, changed or deleted (verb from the notification texts)."""
    from agora.notifications import services as notifications

    master_id = event.parent_id or event.id
    gone = verb == "agenda.cancelled"
    notifications.notify(
        space,
        "event",
        verb,
        notifications.space_members(space, except_user=actor),
        actor=actor,
        title=event.title,
        url=f"/s/{space.slug}/agenda/" + ("" if gone else f"{master_id}/"),
        group_key=f"events:{space.id}",
        excerpt=event.location or event.description,
        event_id=None if gone else master_id,
    )


def create_event(space: Space, author: User, data: EventData, *, verb: str = "agenda.event") -> Event:
    """Create an event or a series and tell the members. Raises ServiceError for bad input."""
    event = Event(space_id=space.id, uid=f"{uuid.uuid4()}@agora", author_id=author.id, exdates=[])
    _apply(space, event, data)
    db.session.add(event)
    db.session.flush()
    record_activity(space, author, "agenda.event", event.title, f"/s/{space.slug}/agenda/{event.id}/")
    after_commit("agenda.event", event.id, space.id, "created")
    notify_event(space, event, author, verb)
    return event


def update_event(space: Space, event: Event, data: EventData) -> None:
    """Change an event or a whole series; calendar apps see a new SEQUENCE.

    When a series' times or repeat change, its cancelled and changed dates no longer match any
    date of it: they are forgotten rather than left to resurface or show twice.
    """
    before = (event.starts_at, event.rrule, event.tz, event.all_day)
    _apply(space, event, data)
    if event.parent_id is None and before != (event.starts_at, event.rrule, event.tz, event.all_day):
        event.exdates, event.rdates = [], []
        for child in db.session.scalars(select(Event).where(Event.parent_id == event.id)):
            db.session.delete(child)
    event.sequence += 1
    event.updated_at = utcnow()
    after_commit("agenda.event", event.id, space.id, "updated")


def delete_event(space: Space, event: Event) -> None:
    """Delete an event or a whole series; deleting a changed date cancels that date of its series."""
    if event.parent_id is not None:
        cancel_occurrence(space, db.session.get(Event, event.parent_id), event.recurrence_id)
        return
    after_commit("agenda.event", event.id, space.id, "deleted")
    db.session.delete(event)
    db.session.flush()


def cancel_occurrence(space: Space, event: Event, original_start: datetime) -> None:
    """Cancel one occurrence of a series (an EXDATE). Raises ServiceError if it is not one."""
    if not _is_occurrence(event, original_start):
        raise ServiceError(_l("Cette date ne fait pas partie de la série."), status=404)
    child = get_override(event, original_start)
    if child is not None:
        db.session.delete(child)
    key = original_start.isoformat()
    if key not in event.exdates:
        event.exdates = [*event.exdates, key]
    event.sequence += 1
    event.updated_at = utcnow()
    after_commit("agenda.event", event.id, space.id, "updated")


def get_event(space: Space, event_id: int) -> Event | None:
    return db.session.scalar(
        select(Event)
        .where(Event.id == event_id, Event.space_id == space.id)
        .options(selectinload(Event.bookings).selectinload(Booking.resource))
    )


# Occurrences ------------------------------------------------------------------------------


def expand(
    event: Event, window_start: datetime, window_end: datetime, overridden: frozenset[datetime] = frozenset()
) -> list[Occurrence]:
    """Return the event's occurrences that overlap [window_start, window_end).

    For a series, occurrences cancelled (EXDATE) or replaced by an override (in `overridden`)
    are left out; the override itself is a single event of its own.
    """
    duration = event.ends_at - event.starts_at
    if not event.rrule and not event.rdates:
        if overlaps(event.starts_at, event.ends_at, window_start, window_end):
            return [Occurrence(event, event.starts_at, event.ends_at)]
        return []
    tz = ZoneInfo(event.tz)
    local_start = event.starts_at.astimezone(tz)
    local_end = event.ends_at.astimezone(tz)
    wall_duration = local_end.replace(tzinfo=None) - local_start.replace(tzinfo=None)
    after = (window_start - duration).astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    before = window_end.astimezone(tz).replace(tzinfo=None)
    starts = _local_starts(event, after, before) if event.rrule else [local_start.replace(tzinfo=None)]
    starts += [datetime.fromisoformat(x).astimezone(tz).replace(tzinfo=None) for x in event.rdates or []]
    cancelled = set(event.exdates or [])
    found, seen = [], set()
    for naive in sorted(starts):
        start = naive.replace(tzinfo=tz).astimezone(UTC)
        end = (naive + wall_duration).replace(tzinfo=tz).astimezone(UTC)
        if (
            start in seen
            or start.isoformat() in cancelled
            or start in overridden
            or not overlaps(start, end, window_start, window_end)
        ):
            continue
        seen.add(start)
        found.append(Occurrence(event, start, end, recurrence_id=start if event.rrule or event.rdates else None))
    return found


def overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    """True when [start, end) meets the window; a moment (start == end) counts where it falls."""
    return start < window_end and (end > window_start or start >= window_start)


def window_events(space_ids: list[int], window_start: datetime, window_end: datetime) -> list[Event]:
    """Every event or series of those spaces that may have an occurrence in the window."""
    if not space_ids:
        return []
    # A series' last occurrence starts at series_until and lasts at most a year (see _apply).
    longest = timedelta(days=366)
    return list(
        db.session.scalars(
            select(Event)
            .where(
                Event.space_id.in_(space_ids),
                Event.parent_id.is_(None),
                Event.starts_at < window_end,
                or_(
                    and_(
                        Event.rrule.is_(None),
                        Event.series_until.is_(None),
                        or_(Event.ends_at > window_start, Event.starts_at >= window_start),
                    ),
                    and_(Event.rrule.is_not(None), Event.series_until.is_(None)),
                    Event.series_until > window_start - longest,  # a bounded series, or a date with extra dates
                ),
            )
            .options(selectinload(Event.category), selectinload(Event.space))
        )
    )


def overrides_of(masters: list[Event]) -> list[Event]:
    """The changed occurrences of those series, in one query."""
    ids = [e.id for e in masters if e.rrule]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Event)
            .where(Event.parent_id.in_(ids))
            .options(selectinload(Event.category), selectinload(Event.space))
        )
    )


def occurrences(space_ids: list[int], window_start: datetime, window_end: datetime) -> list[Occurrence]:
    """All occurrences in the window, changed ones in place of the originals, in start order."""
    masters = window_events(space_ids, window_start, window_end)
    children = overrides_of(masters)
    replaced: dict[int, set[datetime]] = {}
    found = []
    for child in children:
        replaced.setdefault(child.parent_id, set()).add(child.recurrence_id)
        if child.starts_at < window_end and child.ends_at > window_start:
            found.append(Occurrence(child, child.starts_at, child.ends_at, recurrence_id=child.recurrence_id))
    for event in masters:
        found.extend(expand(event, window_start, window_end, frozenset(replaced.get(event.id, ()))))
    return sorted(found, key=lambda o: (o.start, o.event.title))


def _is_occurrence(event: Event, original_start: datetime) -> bool:
    """True when original_start is a start of the series (cancelled or changed ones included).

    Starts are compared as UTC instants made the way `expand` makes them, so a wall-clock time
    that does not exist on a spring-forward day still matches its occurrence.
    """
    if original_start.isoformat() in (event.rdates or []):
        return True
    if not event.rrule:
        return False
    tz = ZoneInfo(event.tz)
    around = original_start.astimezone(tz).replace(tzinfo=None)
    return any(
        naive.replace(tzinfo=tz).astimezone(UTC) == original_start
        for naive in _local_starts(event, around - timedelta(days=1), around + timedelta(days=1))
    )


def coming_dates(event: Event, now: datetime, limit: int = 8) -> list[Occurrence]:
    """The next dates of one series, its changed dates in place."""
    children = overrides_of([event])
    found = expand(event, now, now + timedelta(days=400), frozenset(c.recurrence_id for c in children))
    found += [Occurrence(c, c.starts_at, c.ends_at, recurrence_id=c.recurrence_id) for c in children if c.ends_at > now]
    return sorted(found, key=lambda o: o.start)[:limit]


def get_override(event: Event, original_start: datetime) -> Event | None:
    return db.session.scalar(select(Event).where(Event.parent_id == event.id, Event.recurrence_id == original_start))


def edit_occurrence(space: Space, event: Event, original_start: datetime, data: EventData) -> Event:
    """Change one date of a series (stored as an override with RECURRENCE-ID). Raises ServiceError."""
    if not _is_occurrence(event, original_start) or original_start.isoformat() in (event.exdates or []):
        raise ServiceError(_l("Cette date ne fait pas partie de la série."), status=404)
    child = get_override(event, original_start)
    if child is None:
        child = Event(
            space_id=space.id,
            uid=event.uid,
            parent_id=event.id,
            recurrence_id=original_start,
            author_id=event.author_id,
            exdates=[],
        )
    else:
        child.sequence += 1
    data.repeat, data.count, data.until = "none", None, None
    _apply(space, child, data)
    db.session.add(child)
    child.updated_at = event.updated_at = utcnow()
    db.session.flush()
    after_commit("agenda.event", event.id, space.id, "updated")
    return child


def remaining_count(event: Event, original_start: datetime) -> int | None:
    """How many dates of a COUNT series start at or after original_start (None without COUNT)."""
    rule = dict(part.split("=", 1) for part in (event.rrule or "").split(";") if "=" in part)
    if "COUNT" not in rule:
        return None
    tz = ZoneInfo(event.tz)
    split_at = original_start.astimezone(tz).replace(tzinfo=None)
    before = sum(1 for d in _local_starts(event, before=split_at) if d < split_at)
    return max(1, int(rule["COUNT"]) - before)


def split_series(space: Space, event: Event, original_start: datetime, data: EventData, author: User) -> Event:
    """ "This date and the following ones": end the series before original_start, start a new one there.

    The new series repeats as `data` says (the form offers the old series' remaining dates).
    Changed dates after the split are dropped. Raises ServiceError.
    """
    if not _is_occurrence(event, original_start):
        raise ServiceError(_l("Cette date ne fait pas partie de la série."), status=404)
    if original_start <= event.starts_at:
        update_event(space, event, data)
        return event
    rule = dict(part.split("=", 1) for part in event.rrule.split(";"))
    rule.pop("COUNT", None)
    rule["UNTIL"] = (original_start - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    event.rrule = ";".join(f"{k}={v}" for k, v in rule.items())
    event.exdates = [x for x in event.exdates or [] if datetime.fromisoformat(x) < original_start]
    event.series_until = _series_until(event)
    event.sequence += 1
    event.updated_at = utcnow()
    for child in db.session.scalars(
        select(Event).where(Event.parent_id == event.id, Event.recurrence_id >= original_start)
    ):
        db.session.delete(child)
    after_commit("agenda.event", event.id, space.id, "updated")
    return create_event(space, author, data, verb="agenda.changed")


# Subscription tokens ----------------------------------------------------------------------


def new_token(user: User, space: Space | None) -> str:
    """Make (or remake) the person's subscription address for a space or all spaces; return its secret."""
    existing = db.session.scalar(
        select(IcalToken).where(
            IcalToken.user_id == user.id,
            IcalToken.space_id.is_(None) if space is None else IcalToken.space_id == space.id,
        )
    )
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    raw = secrets.token_urlsafe(32)
    db.session.add(IcalToken(user_id=user.id, space_id=space.id if space else None, token_hash=hash_token(raw)))
    db.session.flush()
    return raw


def find_token(raw: str) -> IcalToken | None:
    """Return the live token for that secret: unknown, disabled account or lost membership give None."""
    if not raw or len(raw) > 100:
        return None
    token = db.session.scalar(select(IcalToken).where(IcalToken.token_hash == hash_token(raw)))
    if token is None or token.user.is_disabled:
        return None
    if token.space_id is not None:
        space = token.space
        if space.is_archived or not space.has_module("agenda") or membership_in(token.user, space) is None:
            return None
    return token


def agenda_space_ids(user: User) -> list[int]:
    """The spaces whose agenda the person sees: member, not archived, agenda switched on."""
    spaces = db.session.scalars(
        select(Space)
        .join(Membership, Membership.space_id == Space.id)
        .where(Membership.user_id == user.id, Space.archived_at.is_(None))
    ).all()
    return [s.id for s in spaces if s.has_module("agenda")]


def revoke_token(user: User, token_id: int) -> bool:
    """Stop one of user's subscription addresses; False when user has no such address."""
    token = db.session.scalar(select(IcalToken).where(IcalToken.id == token_id, IcalToken.user_id == user.id))
    if token is None:
        return False
    db.session.delete(token)
    db.session.flush()
    return True


def user_tokens(user: User) -> list[IcalToken]:
    return list(
        db.session.scalars(
            select(IcalToken)
            .where(IcalToken.user_id == user.id)
            .options(selectinload(IcalToken.space))
            .order_by(IcalToken.id)
        )
    )
