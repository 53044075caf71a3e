"""Import of .ics files into a space's agenda: validated, previewed, then all or nothing.

Events are matched by UID (and RECURRENCE-ID for changed dates of a series), so importing the
same file twice creates nothing new, and a file with changed events updates them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from agora.agenda.models import Event
from agora.agenda.services import (
    MAX_OCCURRENCES,
    MAX_SERIES_SPAN,
    MAX_YEAR,
    MIN_YEAR,
    _rule,
    _series_until,
)
from agora.auth.models import User
from agora.core.events import after_commit
from agora.core.richtext import render_markdown
from agora.core.services import ServiceError, one_line
from agora.core.time import utcnow
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.services import record_activity

MAX_BYTES = 2 * 1024 * 1024
MAX_EVENTS = 2000


@dataclass
class Incoming:
    uid: str
    recurrence_id: datetime | None
    values: dict
    action: str = "create"  #: create, update or unchanged
    existing: Event | None = None


@dataclass
class Plan:
    items: list[Incoming] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for i in self.items if i.action == action)


def _zone_of(value, default: str) -> str:
    info = getattr(value, "tzinfo", None)
    key = getattr(info, "key", None) or getattr(info, "zone", None)
    if key:
        try:
            ZoneInfo(key)
            return key
        except (KeyError, ValueError):
            pass
    return "UTC" if info is not None else default


def _instant(value, tz: str) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))).astimezone(timezone.utc)
    return datetime.combine(value, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def _checked_rule(rule, starts_at: datetime, tz: str, all_day: bool) -> str:
    """Return the RRULE as we store it (UNTIL in UTC), refusing rules too dense or too long."""
    parts = dict(part.split("=", 1) for part in rule.to_ical().decode().split(";") if "=" in part)
    if parts.get("FREQ") not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise ValueError("only daily, weekly, monthly and yearly repeats are accepted")
    if int(parts.get("COUNT", "1")) > MAX_OCCURRENCES:
        raise ValueError(f"more than {MAX_OCCURRENCES} dates")
    if "UNTIL" in parts:
        value = rule.get("UNTIL")[0]
        until = _instant(value if isinstance(value, datetime) else datetime.combine(value, time(23, 59, 59)), tz)
        if until > starts_at + MAX_SERIES_SPAN:
            raise ValueError("a repeat lasting more than ten years")
        # Stored as the value type of DTSTART (RFC 5545): a DATE for all-day series, else UTC.
        parts["UNTIL"] = until.astimezone(ZoneInfo(tz)).strftime("%Y%m%d") if all_day else until.strftime("%Y%m%dT%H%M%SZ")
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    probe = Event(rrule=text, tz=tz, starts_at=starts_at)
    if next(iter(_rule(probe, starts_at.astimezone(ZoneInfo(tz)))), None) is None:
        raise ValueError("a repeat that gives no date")
    return text


def _values(component, default_tz: str) -> dict:
    start = component.decoded("DTSTART")
    all_day = isinstance(start, date) and not isinstance(start, datetime)
    tz = default_tz if all_day else _zone_of(start, default_tz)
    if "DTEND" in component:
        end = component.decoded("DTEND")
    elif "DURATION" in component:
        end = start + component.decoded("DURATION")
    else:
        end = start + (timedelta(days=1) if all_day else timedelta(hours=1))
    starts_at, ends_at = _instant(start, tz), _instant(end, tz)
    if ends_at <= starts_at:
        raise ValueError("DTEND is not after DTSTART")
    rule = component.get("RRULE")
    rrule_text = _checked_rule(rule, starts_at, tz, all_day) if rule is not None else None
    if not (MIN_YEAR <= starts_at.year and ends_at.year <= MAX_YEAR):
        raise ValueError("a date outside the years 1900 to 2200")
    exdates = []
    for group in component.get("EXDATE", []) if isinstance(component.get("EXDATE"), list) else (
            [component.get("EXDATE")] if component.get("EXDATE") is not None else []):
        for item in group.dts:
            exdates.append(_instant(item.dt, tz).isoformat())
    description = str(component.get("DESCRIPTION", ""))
    return {
        "title": one_line(str(component.get("SUMMARY", "")))[:200] or str(_l("Sans titre")),
        "description": description.replace("\x00", "")[:20000], "location": one_line(str(component.get("LOCATION", "")))[:300],
        "url": one_line(str(component.get("URL", "")))[:500] if str(component.get("URL", "")).startswith(("http://", "https://")) else "",
        "tz": tz, "all_day": all_day, "starts_at": starts_at, "ends_at": ends_at, "rrule": rrule_text,
        "exdates": sorted(exdates),
    }


def plan_import(space: Space, raw: bytes, default_tz: str, user: User) -> Plan:
    """Read an .ics file and say what importing it would do; writes nothing.

    Raises ServiceError for a file too large, unreadable, with errors, without events, or that
    would change an event `user` may not edit.
    """
    if len(raw) > MAX_BYTES:
        raise ServiceError(_l("Le fichier dépasse 2 Mo."), field="file", status=413)
    raw = raw.replace(b"\x00", b"")
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except (ValueError, IndexError, KeyError):
        raise ServiceError(_l("Ce fichier n'est pas un agenda iCalendar (.ics) lisible."), field="file") from None
    problems = [f"{c.name}: {e[0]} ({e[1]})" for c in calendar.walk() for e in getattr(c, "errors", [])]
    if problems:
        raise ServiceError(_l("Le fichier contient des valeurs invalides : %(what)s", what="; ".join(problems[:3])), field="file")
    events = [c for c in calendar.walk("VEVENT") if str(c.get("STATUS", "")).upper() != "CANCELLED"]
    if not events:
        raise ServiceError(_l("Le fichier ne contient aucun événement."), field="file")
    if len(events) > MAX_EVENTS:
        raise ServiceError(_l("Le fichier contient plus de %(n)s événements.", n=MAX_EVENTS), field="file")
    plan = Plan()
    for component in events:
        try:
            values = _values(component, default_tz)
        except (KeyError, ValueError, TypeError, AttributeError, OverflowError) as exc:
            summary = str(component.get("SUMMARY", "?"))[:60]
            raise ServiceError(_l("L'événement « %(title)s » n'est pas valide (%(why)s).", title=summary, why=exc),
                               field="file") from None
        uid = str(component.get("UID", "")).strip()[:255] or hashlib.sha256(component.to_ical()).hexdigest()[:32] + "@import"
        recurrence = component.get("RECURRENCE-ID")
        recurrence_id = _instant(recurrence.dt, values["tz"]) if recurrence is not None else None
        existing = db.session.scalar(select(Event).where(
            Event.space_id == space.id, Event.uid == uid,
            Event.recurrence_id.is_(None) if recurrence_id is None else Event.recurrence_id == recurrence_id))
        if existing is not None and not existing.can_edit(user):
            raise ServiceError(_l("Le fichier modifierait « %(title)s », que vous ne pouvez pas modifier.",
                                  title=existing.title), field="file", status=403)
        item = Incoming(uid, recurrence_id, values, existing=existing)
        if existing is not None:
            same = all(getattr(existing, k) == v for k, v in values.items() if k != "exdates") and \
                sorted(existing.exdates or []) == values["exdates"]
            item.action = "unchanged" if same else "update"
        plan.items.append(item)
    return plan


def apply_import(space: Space, plan: Plan, author: User) -> None:
    """Create and update as planned; the caller commits (all) or rolls back (nothing)."""
    masters: dict[str, Event] = {}
    for item in sorted(plan.items, key=lambda i: i.recurrence_id is not None):
        if item.action == "unchanged":
            if item.recurrence_id is None:
                masters[item.uid] = item.existing
            continue
        event = item.existing or Event(space_id=space.id, uid=item.uid, author_id=author.id, recurrence_id=item.recurrence_id)
        if item.recurrence_id is not None:
            parent = masters.get(item.uid) or db.session.scalar(select(Event).where(
                Event.space_id == space.id, Event.uid == item.uid, Event.parent_id.is_(None), Event.recurrence_id.is_(None)))
            if parent is None:
                continue  # a changed date of a series that is not in the agenda: nothing to attach it to
            event.parent_id = parent.id
        for key, value in item.values.items():
            setattr(event, key, value)
        event.description_html = str(render_markdown(event.description))
        event.series_until = _series_until(event) if event.rrule else None
        if item.existing is not None:
            event.sequence += 1
        event.updated_at = utcnow()
        db.session.add(event)
        db.session.flush()
        if item.recurrence_id is None:
            masters[item.uid] = event
        after_commit("agenda.event", event.id, space.id, "updated" if item.existing else "created")
    created = plan.count("create")
    if created:
        record_activity(space, author, "agenda.import", str(_l("%(n)s événements importés", n=created)),
                        f"/s/{space.slug}/agenda/")
