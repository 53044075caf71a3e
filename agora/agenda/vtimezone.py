"""VTIMEZONE components written from zoneinfo as yearly rules, the way Google, Outlook and Apple write them.

icalendar's own VTIMEZONEs list the changes of time as RDATEs up to 2038: ical.js and vobject read
only the first date of such a list, and no engine knows any offset after 2038. Here the changes of
time are read from zoneinfo year by year, and each run of them that follows one yearly pattern
("the last Sunday of March at 02:00") becomes one observance with an RRULE: closed by UNTIL where
the zone changed its rule, open-ended for the rule in force. Every engine then finds the right
offset for any date from `since` on, series without end included.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

#: tzdata lists changes of time up to 2037, then gives the rule in force. Looking this many years
#: further shows that rule over enough years to tell it from look-alikes (a "Sunday on or after
#: the 8th" is the second Sunday only while no year says otherwise). Changes listed beyond that
#: (Morocco's, which follow Ramadan, up to 2087) are left out: the last one found holds.
LAST_LISTED_YEAR = 2037
SETTLE_YEARS = 14
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Yearly patterns, best first: n-th weekday, last weekday, weekday on or after a day, fixed day.
NICE, LAST, FROM, DATE = range(4)


@dataclass(frozen=True)
class Change:
    """A change of time: its UTC instant, the offset before it, and what comes after."""

    at: datetime
    before: timedelta
    after: timedelta
    is_dst: bool
    name: str

    @property
    def wall(self) -> datetime:
        """The instant on the clock as it read just before the change (an observance's DTSTART)."""
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def kind(self) -> tuple:
        """What changes of one yearly rule share: month, clock time, offsets and name."""
        return self.wall.month, self.wall.time(), self.before, self.after, self.is_dst, self.name


@dataclass(frozen=True)
class Observance:
    """One STANDARD or DAYLIGHT: a single change (rule None) or a yearly run of them."""

    first: Change
    rule: tuple | None = None
    until: datetime | None = None  #: a closed run's UNTIL (UTC); None: open-ended


def _reader(name: str, first_year: int, last_year: int):
    """A function giving (offset, is daylight time, abbreviation) at an instant in the zone."""
    zone = ZoneInfo(name)
    # Ireland and Morocco count their winter (or Ramadan) time as a negative DST: there the other
    # time is the daylight one, as calendar apps write it.
    negative = any(
        datetime(year, month, 1, tzinfo=UTC).astimezone(zone).dst() < timedelta(0)
        for year in range(first_year, last_year + 1)
        for month in range(1, 13)
    )

    def state(at: datetime) -> tuple:
        local = at.astimezone(zone)
        dst = local.dst()
        return local.utcoffset(), dst > timedelta(0) or (negative and dst == timedelta(0)), local.tzname()

    return state


def changes(name: str, first_year: int, last_year: int) -> list[Change]:
    """Every change of time of the zone within these years, found by day steps then halving."""
    state_at = _reader(name, first_year, last_year)
    day = timedelta(days=1)
    at = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    state = state_at(at)
    found = []
    while at < end:
        if state_at(at + day) == state:
            at += day
            continue
        low, high = 0, 86400  # seconds after `at`: the old state at `low`, a new one at `high`
        while high - low > 1:
            middle = (low + high) // 2
            if state_at(at + timedelta(seconds=middle)) == state:
                low = middle
            else:
                high = middle
        at += timedelta(seconds=high)
        changed = state_at(at)
        found.append(Change(at, state[0], changed[0], changed[1], changed[2]))
        state = changed  # and look on from this instant: two changes may fall within a day
    return found


def _patterns(wall: datetime) -> set[tuple]:
    """The yearly patterns this day fits (a run keeps those every one of its years fits)."""
    weekday, day = WEEKDAYS[wall.weekday()], wall.day
    found = {(DATE, day)}
    if day > calendar.monthrange(wall.year, wall.month)[1] - 7:
        found.add((LAST, weekday))
    shortest = calendar.monthrange(2001, wall.month)[1]  # the month in a common year
    for first in range(max(1, day - 6), min(day, shortest - 6) + 1):  # a whole week inside the month
        found.add((NICE if first % 7 == 1 else FROM, weekday, first))
    return found


def _rrule(month: int, pattern: tuple, until: datetime | None) -> vRecur:
    rule = {"FREQ": "YEARLY", "BYMONTH": month}
    if pattern[0] == NICE:
        rule["BYDAY"] = f"{pattern[2] // 7 + 1}{pattern[1]}"
    elif pattern[0] == LAST:
        rule["BYDAY"] = f"-1{pattern[1]}"
    elif pattern[0] == FROM:
        rule["BYDAY"] = pattern[1]
        rule["BYMONTHDAY"] = list(range(pattern[2], pattern[2] + 7))
    else:
        rule["BYMONTHDAY"] = pattern[1]
    if until is not None:
        rule["UNTIL"] = until
    return vRecur(rule)


@lru_cache(maxsize=128)
def observances(name: str, first_year: int) -> tuple[Observance, ...]:
    """The zone's observances from the 1st of January of `first_year` on, as runs of yearly changes.

    The first observance holds the offset in force on that day; a change that no yearly run
    continues stands alone; the run that lasts to the end of the search is the rule in force.
    """
    last_year = max(first_year, LAST_LISTED_YEAR) + SETTLE_YEARS
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    offset, is_dst, tzname = _reader(name, first_year, last_year)(start)
    found = [Observance(Change(start, offset, offset, is_dst, tzname))]
    runs: dict[tuple, list] = {}  # kind -> [first change, last change, patterns still fitting]
    closed = []
    for change in changes(name, first_year, last_year):
        run = runs.get(change.kind)
        fitting = _patterns(change.wall)
        if run and run[1].wall.year == change.wall.year - 1 and run[2] & fitting:
            run[1], run[2] = change, run[2] & fitting
            continue
        if run:
            closed.append(run)
        runs[change.kind] = [change, change, fitting]
    for first, last, fitting in closed + list(runs.values()):
        if first is last:
            found.append(Observance(first))
            continue
        open_ended = last.wall.year == last_year
        # UNTIL a day after the last change: the same for an engine that compares it right, and
        # still right for one that compares it with the clock time as if it were UTC.
        until = None if open_ended else last.at + timedelta(days=1)
        found.append(Observance(first, (first.wall.month, min(fitting)), until))
    return tuple(sorted(found, key=lambda o: o.first.at))


def vtimezone(name: str, since: datetime) -> Timezone:
    """The VTIMEZONE of zone `name`, right for every instant from `since` on."""
    component = Timezone()
    component.add("tzid", name)
    for observance in observances(name, since.year - 1):
        change = observance.first
        part = TimezoneDaylight() if change.is_dst else TimezoneStandard()
        part.add("dtstart", change.wall)
        if observance.rule is not None:
            part.add("rrule", _rrule(*observance.rule, observance.until))
        part.add("tzoffsetfrom", change.before)
        part.add("tzoffsetto", change.after)
        part.add("tzname", change.name)
        component.add_component(part)
    return component
