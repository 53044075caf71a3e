"""Import of .ics files into a space's agenda: validated, previewed, then all or nothing.

Events are matched by UID (and RECURRENCE-ID for changed dates of a series), so importing the
same file twice creates nothing new, and a file with changed events updates them. An event that
cannot be read is left out and listed with the reason; the rest is imported. Time zones are
resolved here from each file alone (IANA names, Windows names, the file's own VTIMEZONE), never
from what earlier files taught the icalendar library. The importer applies the rights the forms
apply: to each event it writes and to the series whose dates it changes or cancels.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import icalendar
from flask_babel import format_date, format_datetime, ngettext
from flask_babel import lazy_gettext as _l
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from sqlalchemy import select

from agora.agenda.models import Event
from agora.agenda.recurrence import local_starts, parts_of, rule_problem
from agora.agenda.services import MAX_YEAR, MIN_YEAR, _series_until
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
#: File-defined zones compared with the IANA database per file: each comparison costs a few milliseconds.
MAX_OWN_ZONES = 20
#: Properties without which an event cannot be placed on the agenda: an error there leaves the event out.
ESSENTIAL = {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
COMPARED = ("title", "description", "location", "url", "tz", "all_day", "starts_at", "ends_at", "rrule")


class Unreadable(Exception):
    """One event of the file cannot be imported; `args[0]` says why, in words for the person."""


@dataclass
class Incoming:
    uid: str
    recurrence_id: datetime | None
    values: dict
    action: str = "create"  #: create, update or unchanged
    existing: Event | None = None
    #: For a changed date: its series as stored, if it is (the rights to check are that series').
    parent: Event | None = None


@dataclass
class Skipped:
    title: str
    when: str  #: the event's date, as the person reads it
    reason: str


@dataclass
class Plan:
    items: list[Incoming] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: Dates cancelled by the file in series already in the agenda (not in the file): (series, original start).
    cancellations: list[tuple[Event, datetime]] = field(default_factory=list)

    def count(self, action: str) -> int:
        found = sum(1 for i in self.items if i.action == action)
        return found + (len({c[0].id for c in self.cancellations}) if action == "update" else 0)


# Time zones -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _iana_names() -> tuple[str, ...]:
    return tuple(
        sorted(n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "posix/", "right/")))
    )


def _offsets(zone_: tzinfo, instants: list[datetime]) -> list:
    return [i.astimezone(zone_).utcoffset() for i in instants]


class Zones:
    """The TZIDs of one file, resolved to IANA zones where possible, from that file alone."""

    def __init__(self, calendar, default_tz: str):
        self.default_tz = default_tz
        self.definitions = {str(c["TZID"]): c for c in calendar.walk("VTIMEZONE") if "TZID" in c}
        self.known: dict[str, tuple[str, tzinfo]] = {}
        self.compared = 0

    def resolve(self, tzid: str, year: int) -> tuple[str, tzinfo]:
        """Return (zone name to store, tzinfo for instants); a file-defined zone no IANA zone matches
        gives ("UTC", the file's definition): its instants are right, its series repeat in UTC."""
        if tzid not in self.known:
            self.known[tzid] = self._resolve(tzid, year)
        return self.known[tzid]

    def _resolve(self, tzid: str, year: int) -> tuple[str, tzinfo]:
        cleaned = tzid.strip().strip("/").strip('"')
        for name in (cleaned, WINDOWS_TO_OLSON.get(cleaned)):
            zone_ = _iana(name)
            if zone_ is not None:
                return name, zone_
        definition = self.definitions.get(tzid)
        self.compared += definition is not None
        if definition is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    own = definition.to_tz(tzp, lookup_tzid=False)
                hints = [str(definition.get("X-LIC-LOCATION", "")), self.default_tz]
                hints += ["/".join(cleaned.split("/")[i:]) for i in range(1, cleaned.count("/") + 1)]
                match = _matching_zone(own, year, hints) if self.compared <= MAX_OWN_ZONES else None
            except Exception:  # a VTIMEZONE the library cannot build: read as unknown below
                own, match = None, None
            if match is not None:
                return match, ZoneInfo(match)
            if own is not None:
                return "UTC", own
        # A vendor prefix before an IANA name ("/freeassociation.sourceforge.net/Europe/Berlin").
        for i in range(1, cleaned.count("/") + 1):
            name = "/".join(cleaned.split("/")[i:])
            if "/" in name and _iana(name) is not None:
                return name, ZoneInfo(name)
        raise Unreadable(_l("son fuseau horaire « %(tz)s » est inconnu", tz=one_line(tzid)[:60]))


def _iana(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return None


def _matching_zone(own: tzinfo, year: int, hints: list[str]) -> str | None:
    """The IANA zone giving the same UTC offset as `own` every day of the years around `year`."""
    year = max(MIN_YEAR, min(year, MAX_YEAR - 2))
    coarse = [datetime(year, m, 15, 12, tzinfo=UTC) for m in (1, 4, 7, 10)]
    fine = [datetime(year - 1, 1, 1, 12, tzinfo=UTC) + timedelta(hours=12 * n) for n in range(2 * 366 * 3)]
    want_coarse, want_fine = _offsets(own, coarse), None
    for name in dict.fromkeys([h for h in hints if h] + list(_iana_names())):
        candidate = _iana(name)
        if candidate is None or _offsets(candidate, coarse) != want_coarse:
            continue
        if want_fine is None:
            want_fine = _offsets(own, fine)
        if _offsets(candidate, fine) == want_fine:
            return name
    return None


# Reading one event ------------------------------------------------------------------------


def _props(component, name: str) -> list:
    value = component.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Reader:
    """Turns the VEVENTs of one file into values for Event rows."""

    def __init__(self, calendar, default_tz: str):
        self.zones = Zones(calendar, default_tz)
        self.default_tz = default_tz

    def wall(self, value, tzid: str | None) -> tuple[date | datetime, tzinfo | None, str | None]:
        """(the value, its tzinfo, the zone name to store): a DATE has no tzinfo; floating is the space's zone."""
        if isinstance(value, tuple):  # an RDATE period: its start
            value = value[0]
        if not isinstance(value, datetime):
            if not isinstance(value, date):
                raise Unreadable(_l("une de ses dates est illisible"))
            return value, None, None
        if tzid:
            name, zone_ = self.zones.resolve(str(tzid), value.year)
            return value.replace(tzinfo=None), zone_, name
        if value.tzinfo is not None:  # a UTC time ("Z")
            return value.replace(tzinfo=None) + (value.utcoffset() or timedelta(0)), UTC, "UTC"
        return value, ZoneInfo(self.default_tz), self.default_tz

    def instant(self, prop, tz_for_dates: str) -> tuple[datetime, bool, str | None]:
        """(UTC instant, is a DATE, zone name) of a DTSTART-like property."""
        value, zone_, name = self.wall(prop.dt, prop.params.get("TZID"))
        if zone_ is None:
            return datetime.combine(value, time(0), tzinfo=ZoneInfo(tz_for_dates)).astimezone(UTC), True, None
        return value.replace(tzinfo=zone_).astimezone(UTC), False, name

    def instants(self, component, name: str, tz: str) -> list[tuple[datetime, bool]]:
        """The UTC instants of every EXDATE or RDATE line, each with whether it was a DATE."""
        found = []
        for prop in _props(component, name):
            for item in getattr(prop, "dts", []):
                value, zone_, _name = self.wall(item.dt, prop.params.get("TZID") or item.params.get("TZID"))
                if zone_ is None:
                    found.append((datetime.combine(value, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC), True))
                else:
                    found.append((value.replace(tzinfo=zone_).astimezone(UTC), False))
        return found

    def values(self, component) -> dict:
        """The event's values as Event columns; raises Unreadable."""
        bad = sorted({e[0] for e in getattr(component, "errors", []) if e[0] in ESSENTIAL})
        if bad:
            raise Unreadable(_l("%(what)s est illisible", what=_property_words(bad[0])))
        if component.get("DTSTART") is None:
            raise Unreadable(_l("il n'a pas de date de début"))
        starts_at, all_day, tz = self.instant(component["DTSTART"], self.default_tz)
        tz = self.default_tz if all_day else tz
        if not MIN_YEAR <= starts_at.year <= MAX_YEAR:
            raise Unreadable(_l("sa date est en dehors des années %(a)s à %(b)s", a=MIN_YEAR, b=MAX_YEAR))
        if component.get("DTEND") is not None:
            ends_at, _day, _tz = self.instant(component["DTEND"], tz)
        elif component.get("DURATION") is not None:
            ends_at = _shifted(starts_at, component["DURATION"].dt, tz, all_day)
        else:
            ends_at = _shifted(starts_at, timedelta(days=1) if all_day else timedelta(0), tz, all_day)
        if all_day and ends_at == starts_at:  # holiday calendars write DTEND = DTSTART for one day
            ends_at = _shifted(starts_at, timedelta(days=1), tz, True)
        if ends_at < starts_at:
            raise Unreadable(_l("sa fin est avant son début"))
        if not (MIN_YEAR <= starts_at.year and ends_at.year <= MAX_YEAR):
            raise Unreadable(_l("sa date est en dehors des années %(a)s à %(b)s", a=MIN_YEAR, b=MAX_YEAR))
        if ends_at - starts_at > timedelta(days=366):
            raise Unreadable(_l("il dure plus d'un an"))
        rules = _props(component, "RRULE")
        rrule_text = self.rule(rules[0], starts_at, tz, all_day) if rules else None
        exdates = set()
        for instant, is_date in self.instants(component, "EXDATE", tz):
            if is_date and not all_day and rrule_text:  # EXDATE;VALUE=DATE on a timed series: that day's dates
                exdates.update(_starts_on(rrule_text, starts_at, tz, instant.astimezone(ZoneInfo(tz)).date()))
            else:
                exdates.add(instant)
        rdates = {i for i, _is_date in self.instants(component, "RDATE", tz)}
        # RFC 2445 allowed several RRULEs (5545 deprecates it; old exports still write them): the
        # first is the series' rule, the others' dates are kept as dates in addition.
        for extra in rules[1:]:
            text = self.rule(extra, starts_at, tz, all_day)
            if "COUNT" not in text and "UNTIL" not in text:
                raise Unreadable(_l("il a plusieurs répétitions dont une sans fin"))
            zone_ = ZoneInfo(tz)
            rdates.update(n.replace(tzinfo=zone_).astimezone(UTC) for n in local_starts(text, starts_at, tz))
        rdates -= {starts_at}
        if len(rdates) > 1000:
            raise Unreadable(_l("il a plus de 1000 dates en plus"))
        if any(not MIN_YEAR <= r.year <= MAX_YEAR for r in rdates):
            raise Unreadable(_l("sa date est en dehors des années %(a)s à %(b)s", a=MIN_YEAR, b=MAX_YEAR))
        url = one_line(str(component.get("URL", "")))[:500]
        return {
            "title": one_line(str(component.get("SUMMARY", "")))[:200] or str(_l("Sans titre")),
            "description": str(component.get("DESCRIPTION", "")).replace("\x00", "")[:20000],
            "location": one_line(str(component.get("LOCATION", "")))[:300],
            "url": url if url.startswith(("http://", "https://")) else "",
            "tz": tz,
            "all_day": all_day,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "rrule": rrule_text,
            "exdates": sorted(x.isoformat() for x in exdates),
            "rdates": sorted(x.isoformat() for x in rdates),
        }

    def rule(self, prop, starts_at: datetime, tz: str, all_day: bool) -> str:
        """The RRULE as stored (UNTIL in UTC, or a DATE for an all-day series), checked like the form's."""
        parts = parts_of(prop.to_ical().decode())
        if "UNTIL" in parts:
            raw = parts["UNTIL"]
            try:
                if "T" not in raw:
                    until = datetime.combine(
                        datetime.strptime(raw[:8], "%Y%m%d").date(), time(23, 59, 59), tzinfo=ZoneInfo(tz)
                    )
                elif raw.endswith("Z"):
                    until = datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                else:
                    until = datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo(tz))
            except ValueError:
                raise Unreadable(_l("sa répétition est illisible")) from None
            until = until.astimezone(UTC)
            # Stored as the value type of DTSTART (RFC 5545): a DATE for all-day series, else UTC.
            parts["UNTIL"] = (
                until.astimezone(ZoneInfo(tz)).strftime("%Y%m%d") if all_day else until.strftime("%Y%m%dT%H%M%SZ")
            )
        text = ";".join(f"{k}={v}" for k, v in parts.items())
        problem = rule_problem(text, starts_at, tz)
        if problem is not None:
            raise Unreadable(_lower_first(str(problem)))
        return text


def _lower_first(text: str) -> str:
    """A sentence of the form's messages as the end of « … : why. » (acronyms kept)."""
    text = text.rstrip(".")
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def _property_words(name: str):
    return {
        "DTSTART": _l("sa date de début"),
        "DTEND": _l("sa date de fin"),
        "DURATION": _l("sa durée"),
        "RRULE": _l("sa répétition"),
        "RDATE": _l("une de ses dates en plus"),
        "EXDATE": _l("une de ses dates annulées"),
        "RECURRENCE-ID": _l("la date qu'il remplace"),
    }[name]


def _shifted(start: datetime, delta: timedelta, tz: str, all_day: bool) -> datetime:
    if not all_day:
        return start + delta
    local = start.astimezone(ZoneInfo(tz)).replace(tzinfo=None) + delta
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _starts_on(rule: str, starts_at: datetime, tz: str, day: date) -> list[datetime]:
    zone_ = ZoneInfo(tz)
    naive = local_starts(
        rule, starts_at, tz, after=datetime.combine(day, time(0)), before=datetime.combine(day, time(23, 59, 59))
    )
    return [n.replace(tzinfo=zone_).astimezone(UTC) for n in naive]


def _label(component) -> tuple[str, str]:
    """(title, date) of a component as the person will recognise it, whatever else is wrong with it."""
    title = one_line(str(component.get("SUMMARY", "")))[:80] or str(_l("Sans titre"))
    try:
        value = component.get("DTSTART").dt
        when = (
            format_date(value, "long")
            if not isinstance(value, datetime)
            else format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC), "d MMMM y HH:mm")
        )
    except Exception:  # a date too broken to show: the title alone names the event
        when = str(_l("date illisible"))
    return title, when


@dataclass
class _Read:
    component: object
    uid: str
    recurrence_id: datetime | None
    rid_range: str
    cancelled: bool
    values: dict | None
    rank: tuple
    item: Incoming | None = None


def _rank(component) -> tuple:
    """Which of two versions of one event is newer: SEQUENCE, then LAST-MODIFIED/DTSTAMP, then the text."""
    try:
        sequence = int(str(component.get("SEQUENCE", 0)))
    except ValueError:
        sequence = 0
    stamps = []
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        value = getattr(component.get(name), "dt", None)
        if isinstance(value, datetime):
            stamps.append(value if value.tzinfo else value.replace(tzinfo=UTC))
    newest = max(stamps, default=datetime(1, 1, 2, tzinfo=UTC))
    return sequence, newest, hashlib.sha256(component.to_ical()).hexdigest()


def _parse(raw: bytes):
    """The file as an icalendar Calendar; the library's process-wide zone cache is emptied after,
    so files never see each other's zones (and the cache stays small)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return icalendar.Calendar.from_ical(raw)
    except Exception:  # the library raises many kinds on broken text: all mean "not readable"
        raise ServiceError(_l("Ce fichier n'est pas un agenda iCalendar (.ics) lisible."), field="file") from None
    finally:
        tzp.use_default()


def plan_import(space: Space, raw: bytes, default_tz: str, user: User) -> Plan:
    """Read an .ics file and say what importing it would do; writes nothing.

    Raises ServiceError for a file too large, unreadable, without any readable event, or that
    would change an event (or a series' dates) `user` may not edit. Events that cannot be read
    are listed in `Plan.skipped` with the reason.
    """
    if len(raw) > MAX_BYTES:
        raise ServiceError(_l("Le fichier dépasse 2 Mo."), field="file", status=413)
    calendar = _parse(raw.replace(b"\x00", b""))
    components = list(calendar.walk("VEVENT"))
    if not components:
        raise ServiceError(_l("Le fichier ne contient aucun événement."), field="file")
    if len(components) > MAX_EVENTS:
        raise ServiceError(_l("Le fichier contient plus de %(n)s événements.", n=MAX_EVENTS), field="file")
    reader = Reader(calendar, default_tz)
    plan = Plan()

    def skip(component, reason) -> None:
        title, when = _label(component)
        plan.skipped.append(Skipped(title, when, str(reason)))

    newest: dict[tuple[str, datetime | None], _Read] = {}
    for component in components:
        uid = (
            one_line(str(component.get("UID", "")))[:200]
            or hashlib.sha256(component.to_ical()).hexdigest()[:32] + "@import"
        )
        cancelled = str(component.get("STATUS", "")).upper() == "CANCELLED"
        try:
            values = reader.values(component)
            recurrence_id, rid_range = None, ""
            if component.get("RECURRENCE-ID") is not None:
                prop = component["RECURRENCE-ID"]
                recurrence_id, _day, _tz = reader.instant(prop, values["tz"])
                rid_range = str(prop.params.get("RANGE", "")).upper()
        except Unreadable as exc:
            skip(component, f"{exc.args[0]}.")
            continue
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError):
            skip(component, _l("il contient une valeur illisible."))
            continue
        read = _Read(component, uid, recurrence_id, rid_range, cancelled, values, _rank(component))
        key = (uid, recurrence_id)
        if key in newest:
            older = min(newest[key], read, key=lambda r: r.rank)
            newest[key] = max(newest[key], read, key=lambda r: r.rank)
            skip(older.component, _l("le fichier en contient une version plus récente, qui est importée."))
        else:
            newest[key] = read
    masters = {r.uid: r for r in newest.values() if r.recurrence_id is None and not r.cancelled}
    for read in newest.values():
        if read.recurrence_id is None and read.cancelled:
            skip(read.component, _l("il est annulé dans le fichier."))
    _split_following(newest, masters, plan)
    stored = _stored_masters(space, {r.uid for r in newest.values()})
    for read in masters.values():
        _plan_item(plan, space, read, None)
    for read in sorted(
        (r for r in newest.values() if r.recurrence_id is not None), key=lambda r: (r.uid, r.recurrence_id)
    ):
        master_read = masters.get(read.uid)
        master_event = stored.get(read.uid)
        master_values = master_read.values if master_read else (_event_values(master_event) if master_event else None)
        if master_values is None:
            skip(read.component, _l("il change une date d'une série qui n'est ni dans le fichier ni dans l'agenda."))
            continue
        rid = _original_start(read, master_values)
        if not _is_date_of(master_values, rid):
            skip(read.component, _l("la date qu'il remplace ne fait pas partie de sa série."))
            continue
        if read.cancelled:
            if master_read is not None:
                master_read.values["exdates"] = sorted({*master_read.values["exdates"], rid.isoformat()})
                _refresh(plan, master_read)
            elif rid.isoformat() not in (master_event.exdates or []):
                plan.cancellations.append((master_event, rid))
            continue
        read.recurrence_id = rid
        read.values.update(rrule=None, rdates=[], exdates=[])
        _plan_item(plan, space, read, master_event)
    check_rights(plan, user)
    if not plan.items and not plan.cancellations:
        if plan.skipped:
            raise ServiceError(
                _l(
                    "Aucun événement de ce fichier ne peut être importé : %(why)s",
                    why=" ; ".join(f"« {s.title} » ({s.when}) : {s.reason}" for s in plan.skipped[:3]),
                ),
                field="file",
            )
        raise ServiceError(_l("Le fichier ne contient aucun événement."), field="file")
    return plan


def _forbidden(event: Event) -> None:
    raise ServiceError(
        _l("Le fichier modifierait « %(title)s », que vous ne pouvez pas modifier.", title=event.title),
        field="file",
        status=403,
    )


def _stored_masters(space: Space, uids: set[str]) -> dict[str, Event]:
    if not uids:
        return {}
    return {
        e.uid: e
        for e in db.session.scalars(
            select(Event).where(
                Event.space_id == space.id,
                Event.uid.in_(uids),
                Event.recurrence_id.is_(None),
                Event.parent_id.is_(None),
            )
        )
    }


def _event_values(event: Event) -> dict:
    return {k: getattr(event, k) for k in (*COMPARED, "exdates", "rdates")}


def _probe(values: dict) -> Event:
    """An unsaved Event holding the values, to expand them the way the agenda does."""
    return Event(
        **{k: values[k] for k in ("tz", "all_day", "starts_at", "ends_at", "rrule")},
        exdates=list(values.get("exdates") or []),
        rdates=list(values.get("rdates") or []),
    )


def _original_start(read: _Read, master: dict) -> datetime:
    """The RECURRENCE-ID as an original start of the series. An all-day series' date is the day the
    RECURRENCE-ID names in its own zone (Outlook writes midnight in some zone for it)."""
    if master["all_day"]:
        value = read.component["RECURRENCE-ID"].dt
        day = value if not isinstance(value, datetime) else value.replace(tzinfo=None).date()
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(master["tz"])).astimezone(UTC)
    return read.recurrence_id


def _is_date_of(master: dict, rid: datetime) -> bool:
    from agora.agenda.services import _is_occurrence

    if rid == master["starts_at"]:
        return True
    return _is_occurrence(_probe(master), rid)


def _split_following(newest: dict, masters: dict, plan: Plan) -> None:
    """RANGE=THISANDFUTURE: the series in the file ends before that date, and a new series (the
    override's values, the same repeat) takes over from it, with the later changed dates."""
    for read in sorted(
        (r for r in list(newest.values()) if r.rid_range == "THISANDFUTURE" and not r.cancelled),
        key=lambda r: r.recurrence_id,
    ):
        master = masters.get(read.uid)
        if master is None or not master.values["rrule"] or read.recurrence_id <= master.values["starts_at"]:
            continue
        cut = read.recurrence_id
        shift = read.values["starts_at"] - cut
        parts = parts_of(master.values["rrule"])
        left = None
        if "COUNT" in parts:
            before = len(
                [
                    s
                    for s in local_starts(master.values["rrule"], master.values["starts_at"], master.values["tz"])
                    if s.replace(tzinfo=ZoneInfo(master.values["tz"])).astimezone(UTC) < cut
                ]
            )
            left = max(1, int(parts.pop("COUNT")) - before)
        head = dict(parts)
        head["UNTIL"] = (
            (cut - timedelta(seconds=1)).astimezone(ZoneInfo(master.values["tz"])).strftime("%Y%m%d")
            if master.values["all_day"]
            else (cut - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
        )
        tail = dict(parts)
        if left is not None:
            tail["COUNT"] = str(left)
        elif "UNTIL" in tail and not master.values["all_day"] and tail["UNTIL"].endswith("Z"):
            until = datetime.strptime(tail["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + shift
            tail["UNTIL"] = until.strftime("%Y%m%dT%H%M%SZ")
        new_uid = f"{read.uid}/{cut.strftime('%Y%m%dT%H%M%SZ')}"[:255]
        later = [x for x in master.values["exdates"] if datetime.fromisoformat(x) >= cut]
        master.values["exdates"] = [x for x in master.values["exdates"] if datetime.fromisoformat(x) < cut]
        master.values["rdates"] = [x for x in master.values["rdates"] if datetime.fromisoformat(x) < cut]
        master.values["rrule"] = ";".join(f"{k}={v}" for k, v in head.items())
        read.values["rrule"] = ";".join(f"{k}={v}" for k, v in tail.items())
        read.values["exdates"] = sorted(
            {*read.values["exdates"], *((datetime.fromisoformat(x) + shift).isoformat() for x in later)}
        )
        del newest[(read.uid, read.recurrence_id)]
        read.uid, read.recurrence_id, read.rid_range = new_uid, None, ""
        newest[(new_uid, None)] = read
        masters[new_uid] = read
        for (uid, rid), other in list(newest.items()):
            if uid == master.uid and rid is not None and rid > cut:
                del newest[(uid, rid)]
                other.uid, other.recurrence_id = new_uid, rid + shift
                newest[(new_uid, rid + shift)] = other


def _plan_item(plan: Plan, space: Space, read: _Read, parent: Event | None) -> None:
    existing = db.session.scalar(
        select(Event).where(
            Event.space_id == space.id,
            Event.uid == read.uid,
            Event.recurrence_id.is_(None) if read.recurrence_id is None else Event.recurrence_id == read.recurrence_id,
        )
    )
    item = Incoming(read.uid, read.recurrence_id, read.values, existing=existing, parent=parent)
    read.item = item
    if existing is not None:
        item.action = "unchanged" if _same(existing, read.values) else "update"
    plan.items.append(item)


def _refresh(plan: Plan, read: _Read) -> None:
    item = getattr(read, "item", None)
    if item is not None and item.existing is not None:
        item.action = "unchanged" if _same(item.existing, read.values) else "update"


def _same(existing: Event, values: dict) -> bool:
    return (
        all(getattr(existing, k) == values[k] for k in COMPARED)
        and sorted(existing.exdates or []) == values["exdates"]
        and sorted(existing.rdates or []) == values["rdates"]
    )


def check_rights(plan: Plan, user: User) -> None:
    """Raise ServiceError (403) when the plan writes to an event `user` may not edit."""
    for item in plan.items:
        if item.action == "update" and not item.existing.can_edit(user):
            _forbidden(item.existing)
        if item.parent is not None and item.action != "unchanged" and not item.parent.can_edit(user):
            _forbidden(item.parent)
    for event, _rid in plan.cancellations:
        if not event.can_edit(user):
            _forbidden(event)


def apply_import(space: Space, plan: Plan, author: User) -> None:
    """Create and update as planned; the caller commits (all) or rolls back (nothing)."""
    from agora.agenda.services import get_override

    check_rights(plan, author)
    masters: dict[str, Event] = {}
    for item in sorted(plan.items, key=lambda i: i.recurrence_id is not None):
        if item.action == "unchanged":
            if item.recurrence_id is None:
                masters[item.uid] = item.existing
            continue
        event = item.existing or Event(
            space_id=space.id, uid=item.uid, author_id=author.id, recurrence_id=item.recurrence_id
        )
        if item.recurrence_id is not None:
            parent = masters.get(item.uid) or item.parent
            event.parent_id = parent.id
            event.author_id = parent.author_id  # a changed date belongs to its series, as with the form
        for key, value in item.values.items():
            setattr(event, key, value)
        event.description_html = str(render_markdown(event.description))
        event.series_until = _series_until(event)
        if item.existing is not None:
            event.sequence += 1
        event.updated_at = utcnow()
        db.session.add(event)
        db.session.flush()
        if item.recurrence_id is None:
            masters[item.uid] = event
            for key in event.exdates:  # a date the file cancels loses its stored change
                child = get_override(event, datetime.fromisoformat(key))
                if child is not None:
                    db.session.delete(child)
        after_commit("agenda.event", event.id, space.id, "updated" if item.existing else "created")
    for event, rid in plan.cancellations:
        child = get_override(event, rid)
        if child is not None:
            db.session.delete(child)
        event.exdates = sorted({*(event.exdates or []), rid.isoformat()})
        event.sequence += 1
        event.updated_at = utcnow()
        after_commit("agenda.event", event.id, space.id, "updated")
    db.session.flush()
    created = plan.count("create")
    if created:
        record_activity(
            space,
            author,
            "agenda.import",
            ngettext("%(num)s événement importé", "%(num)s événements importés", created),
            f"/s/{space.slug}/agenda/",
        )
