"""Recurrence rules: one check for every rule saved (form or import), one bounded expansion for every reader.

A rule is RFC 5545 RRULE text evaluated on wall-clock time in the event's zone (python-dateutil).
The check keeps what a neighbourhood agenda needs (a few dates a day at most, ten years at most);
the expansion stays bounded in count and time whatever a row holds (rows written before the
check existed, or by hand): a rule the check refuses expands to its first date only.
"""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cachetools import LRUCache
from dateutil.rrule import rrulestr
from flask_babel import lazy_gettext as _l

#: Dates a series with an end (COUNT or UNTIL) may have at most.
MAX_OCCURRENCES = 1000
#: How long a series given an end may run.
MAX_SERIES_SPAN = timedelta(days=3660)
#: Dates a rule may give on one day (BYHOUR x BYMINUTE): two sessions a day, morning and evening, fit.
MAX_PER_DAY = 4
MAX_INTERVAL = 99
#: What one expansion may walk through and return, and how long it may take, whatever is stored.
EXPANSION_STEPS = 200_000
#: Dates a series with an end may give (every day for ten years fits).
MAX_SERIES_DATES = 4000
EXPANSION_RESULTS = MAX_SERIES_DATES + 1
EXPANSION_SECONDS = 0.25
#: Dates the per-process cache of expanded months holds at most, an empty month counting one: a
#: weekly series gives ~5 a month, so thousands of series-months fit in a few MB at worst (the
#: 30 demo spaces' home and month pages fill 7,000).
CACHED_DATES = 20_000
#: Windows longer than this many months are expanded without the cache, so one long read does not
#: push out the months every page reads.
CACHED_MONTHS = 15

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: BYYEARDAY and BYWEEKNO are left out: no agenda app writes them for a meeting, and with other
#: parts they easily describe no date at all, which dateutil searches for until the year 9999.
KNOWN_PARTS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
    "BYHOUR",
    "BYMINUTE",
}
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def parts_of(text: str) -> dict[str, str]:
    """The rule's NAME=VALUE parts, names upper-cased."""
    return {
        k.strip().upper(): v.strip() for k, _sep, v in (p.partition("=") for p in (text or "").split(";")) if k.strip()
    }


def _numbers(value: str, low: int, high: int) -> list[int] | None:
    try:
        numbers = [int(x) for x in value.split(",")]
    except ValueError:
        return None
    return numbers if all(low <= n <= high for n in numbers) else None


def shape_problem(text: str):
    """Say (in words for the person) what is wrong with the rule's own text, or None.

    Cheap and structural: it runs on every expansion too, so a row stored without the check
    never starts a runaway expansion.
    """
    parts = parts_of(text)
    if "BYSECOND" in parts:
        return _l("Une répétition à la seconde près n'est pas possible dans l'agenda.")
    if set(parts) - KNOWN_PARTS:
        return _l("Cette règle de répétition n'est pas lisible.")
    if parts.get("FREQ", "").upper() not in FREQUENCIES:
        return _l("Seules les répétitions chaque jour, chaque semaine, chaque mois ou chaque année sont possibles.")
    interval = _numbers(parts.get("INTERVAL", "1"), 1, MAX_INTERVAL)
    if interval is None or len(interval) != 1:
        return _l("L'intervalle de la répétition doit aller de 1 à %(n)s.", n=MAX_INTERVAL)
    if "COUNT" in parts:
        count = _numbers(parts["COUNT"], 1, MAX_OCCURRENCES)
        if count is None or len(count) != 1:
            return _l("Une répétition peut avoir de 1 à %(n)s dates.", n=MAX_OCCURRENCES)
        if "UNTIL" in parts:
            return _l("Cette règle de répétition n'est pas lisible.")
    per_day = 1
    for name, high in (("BYHOUR", 23), ("BYMINUTE", 59)):
        if name in parts:
            values = _numbers(parts[name], 0, high)
            if values is None:
                return _l("Cette règle de répétition n'est pas lisible.")
            per_day *= len(set(values))
    if per_day > MAX_PER_DAY:
        return _l(
            "Cette répétition donnerait %(n)s dates par jour : l'agenda en accepte %(max)s au plus.",
            n=per_day,
            max=MAX_PER_DAY,
        )
    if _never_happens(parts):
        return _l("Cette répétition ne donne aucune date : vérifiez les jours et la fin.")
    return None


def _never_happens(parts: dict[str, str]) -> bool:
    """True for the combinations that give no date (dateutil would walk to the year 9999 to find out)."""
    months = _numbers(parts["BYMONTH"], 1, 12) if "BYMONTH" in parts else list(MONTH_DAYS)
    if months is None:
        return True
    days = _numbers(parts["BYMONTHDAY"], -31, 31) if "BYMONTHDAY" in parts else None
    if days is not None and not any(d and abs(d) <= MONTH_DAYS[m] for m in months for d in days):
        return True
    codes = [c.strip().upper() for c in parts.get("BYDAY", "").split(",") if c.strip()]
    if any(c[-2:] not in WEEKDAY_CODES for c in codes):
        return True
    numbered = any(c[:-2] for c in codes)
    if numbered and ("BYMONTHDAY" in parts or parts["FREQ"].upper() in ("DAILY", "WEEKLY")):
        return True  # "the first Monday" and "the 20th" rarely meet; daily and weekly rules have no "first"
    if "BYSETPOS" in parts:
        # Each weekday comes at least four times a month; other sets may hold a single date.
        most = 4 * len(codes) if codes and not numbered and "BYMONTHDAY" not in parts else 1
        positions = _numbers(parts["BYSETPOS"], -most, most)
        if positions is None or 0 in positions:
            return True
    return False


def _never_reached(parts: dict[str, str], first: datetime) -> bool:
    """True for a daily rule stepping whole weeks onto weekdays it never lands on."""
    interval = int(parts.get("INTERVAL", "1"))
    codes = [c.strip().upper()[-2:] for c in parts.get("BYDAY", "").split(",") if c.strip()]
    return (
        parts["FREQ"].upper() == "DAILY"
        and interval % 7 == 0
        and bool(codes)
        and WEEKDAY_CODES[first.weekday()] not in codes
    )


def _until_local(value: str, tz: ZoneInfo) -> datetime:
    """An UNTIL (DATE, UTC DATE-TIME or floating) as a naive wall-clock time in the event's zone."""
    if "T" not in value:
        return datetime.strptime(value[:8], "%Y%m%d").replace(hour=23, minute=59, second=59)
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
    return datetime.strptime(value, "%Y%m%dT%H%M%S")


def local_starts(
    text: str, starts_at: datetime, tz_name: str, *, after: datetime | None = None, before: datetime | None = None
) -> list[datetime]:
    """The series' starts as naive wall-clock times in its zone, within [after, before] when given.

    Never more than EXPANSION_RESULTS dates, EXPANSION_STEPS dates walked or EXPANSION_SECONDS
    spent; without `before`, never past MAX_SERIES_SPAN after the first date. A rule that fails
    `shape_problem` (or that dateutil cannot read) gives its first date only.
    """
    tz = ZoneInfo(tz_name)
    first = starts_at.astimezone(tz).replace(tzinfo=None)
    in_range = (after is None or first >= after) and (before is None or first <= before)
    parts = parts_of(text)
    if shape_problem(text) is not None or _never_reached(parts, first):
        return [first] if in_range else []
    count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    # The walk always ends: at the rule's own UNTIL, at `before`, or at the longest span a series may have.
    stop = before if before is not None else first + MAX_SERIES_SPAN + timedelta(days=1)
    if "UNTIL" in parts:
        try:
            stop = min(stop, _until_local(parts["UNTIL"], tz))
        except ValueError:
            return [first] if in_range else []
    parts["UNTIL"] = stop.strftime("%Y%m%dT%H%M%S")
    try:
        rule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=first)
    except (ValueError, TypeError, OverflowError):
        return [first] if in_range else []
    found: list[datetime] = []
    deadline = clock.monotonic() + EXPANSION_SECONDS
    try:
        for step, naive in enumerate(rule):
            if count is not None and step >= count or step >= EXPANSION_STEPS or len(found) >= EXPANSION_RESULTS:
                break
            if step % 256 == 255 and clock.monotonic() > deadline:
                break
            if after is None or naive >= after:
                found.append(naive)
    except (ValueError, OverflowError):
        pass
    return found


def rule_problem(text: str, starts_at: datetime, tz_name: str):
    """Say (in words for the person) why this rule cannot be saved for a series starting then, or None.

    On top of `shape_problem`: the rule must give a date, and a series with an end must end
    within MAX_SERIES_SPAN.
    """
    problem = shape_problem(text)
    if problem is not None:
        return problem
    parts = parts_of(text)
    tz = ZoneInfo(tz_name)
    first = starts_at.astimezone(tz).replace(tzinfo=None)
    if _never_reached(parts, first):
        return _l("Cette répétition ne donne aucune date : vérifiez les jours et la fin.")
    if "UNTIL" in parts:
        try:
            until = _until_local(parts["UNTIL"], tz)
        except ValueError:
            return _l("Cette règle de répétition n'est pas lisible.")
        if until > first + MAX_SERIES_SPAN:
            return _l("Une répétition ne peut pas durer plus de dix ans.")
    try:
        rrulestr(
            text if "UNTIL" not in parts else ";".join(f"{k}={v}" for k, v in parts.items() if k != "UNTIL"),
            dtstart=first,
        )
    except (ValueError, TypeError, OverflowError):
        return _l("Cette règle de répétition n'est pas lisible.")
    starts = local_starts(text, starts_at, tz_name)
    if not starts:
        return _l("Cette répétition ne donne aucune date : vérifiez les jours et la fin.")
    if "COUNT" in parts and len(starts) < int(parts["COUNT"]):
        return _l("Une répétition ne peut pas durer plus de dix ans.")
    if ("COUNT" in parts or "UNTIL" in parts) and len(starts) > MAX_SERIES_DATES:
        return _l("Cette répétition donnerait plus de %(n)s dates.", n=MAX_SERIES_DATES)
    return None


# One month of a series' dates, by (rule, first start, zone, first day of the month), least recently
# used first out. The key is everything the dates depend on, read from the row of this request:
# a series changed by any process has another key, so no entry is ever stale, and an entry holds
# dates only (never an event), so it serves any series with the same rule in any space alike.
_months: LRUCache = LRUCache(maxsize=CACHED_DATES, getsizeof=lambda dates: len(dates) + 1)
_months_lock = threading.Lock()


def _month_of(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def window_starts(text: str, starts_at: datetime, tz_name: str, after: datetime, before: datetime) -> list[datetime]:
    """`local_starts` within [after, before] (naive, in the zone), expanded a calendar month at a time and kept.

    The months not kept yet are expanded in one walk; what the pages read (this month, the next
    thirty days) is then a look-up, whatever day or minute their window starts.
    """
    months = []
    month = _month_of(after)
    while month <= before and len(months) <= CACHED_MONTHS:
        months.append(month)
        month = _next_month(month)
    if len(months) > CACHED_MONTHS:
        return local_starts(text, starts_at, tz_name, after=after, before=before)
    series = (text, starts_at, tz_name)
    with _months_lock:
        found = {m: _months.get((*series, m)) for m in months}
    missing = [m for m, dates in found.items() if dates is None]
    if missing:
        first, stop = missing[0], _next_month(missing[-1])
        fresh: dict[datetime, list[datetime]] = {m: [] for m in months if first <= m < stop}
        for naive in local_starts(text, starts_at, tz_name, after=first, before=stop - timedelta(seconds=1)):
            fresh[_month_of(naive)].append(naive)
        with _months_lock:
            for m, dates in fresh.items():
                found[m] = tuple(dates)
                _months[(*series, m)] = found[m]
    return [naive for m in months for naive in found[m] if after <= naive <= before]
