"""Our feeds read by four independent engines, every occurrence compared with zoneinfo, 2027 to 2040.

ical.js (Thunderbird, Nextcloud's calendar), libical (Evolution), vobject and recurring-ical-events
each expand the feed with their own reading of its VTIMEZONEs: the years cross a change of time
every spring and autumn, in both hemispheres, and 2038. The two Python engines keep zones by name
for the whole process and recurring-ical-events prefers zoneinfo for a known name, so they read a
copy of the feed whose TZIDs are renamed: they must then use the feed's own VTIMEZONE.

CI installs node with ical.js (`npm ci` in tests/icaljs) and libical, and there a missing engine
fails the test instead of skipping it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
from sqlalchemy import select

from agora.agenda import ical
from agora.agenda.models import Event
from tests.conftest import post
from tests.test_agenda import confirm_ics, create, event_id_of, feed_for, upload_ics
from tests.test_agenda_libical import SCRIPT as LIBICAL_SCRIPT
from tests.test_agenda_libical import SYSTEM_PYTHON, requires_libical

ICALJS = Path(__file__).with_name("icaljs")
YEARS = (2027, 2040)
#: The feed's window (one year back, two ahead) then holds 2037 to 2040, around 2038.
NOW = datetime(2038, 6, 15, 10, 0, tzinfo=UTC)


def icaljs_available() -> bool:
    return shutil.which("node") is not None and (ICALJS / "node_modules" / "ical.js").is_dir()


requires_icaljs = pytest.mark.skipif(
    not icaljs_available() and not os.environ.get("CI"),
    reason="node and ical.js (npm ci in tests/icaljs) are not installed; CI installs them",
)


def utc_text(when: datetime | date) -> str:
    if not isinstance(when, datetime):
        return when.isoformat()
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


_renames = itertools.count()


def with_own_zone_names(feed: bytes) -> str:
    """The feed with each TZID renamed anew at each call, so that no engine knows the zone by its name."""
    text = feed.decode("utf-8").replace("\r\n ", "")
    tag = next(_renames)
    return re.sub(r"(TZID[:=])([^:;\r\n]+)", lambda m: f"{m.group(1)}X-Agora-{tag}-{m.group(2)}", text)


def by_icaljs(feed: bytes, years: tuple[int, int]) -> list[tuple[str, str]]:
    result = subprocess.run(
        ["node", str(ICALJS / "expand.js"), *map(str, years)], input=feed, capture_output=True, check=True
    )
    return [(start, summary) for start, summary, _uid in json.loads(result.stdout)]


def by_libical(feed: bytes, years: tuple[int, int]) -> list[tuple[str, str]]:
    result = subprocess.run(
        [SYSTEM_PYTHON, str(LIBICAL_SCRIPT), *map(str, years)], input=feed, capture_output=True, check=True
    )
    return [tuple(line.split("\t")) for line in result.stdout.decode("utf-8").splitlines()]


def by_vobject(feed: bytes, years: tuple[int, int]) -> list[tuple[str, str]]:
    found = []
    for event in vobject.readOne(with_own_zone_names(feed)).vevent_list:
        rules, start = event.getrruleset(addRDate=True), event.dtstart.value
        if rules is None:
            found.append((utc_text(start), event.summary.value))
            continue
        bounds = [datetime(year, 1, 1) for year in (years[0], years[1] + 1)]
        if isinstance(start, datetime):
            bounds = [b.replace(tzinfo=UTC) for b in bounds]
        for when in rules.between(*bounds, inc=True):  # all-day dates come as naive midnights
            found.append(
                (utc_text(when) if isinstance(start, datetime) else when.date().isoformat(), event.summary.value)
            )
    return found


def by_recurring_ical_events(feed: bytes, years: tuple[int, int]) -> list[tuple[str, str]]:
    calendar = icalendar.Calendar.from_ical(with_own_zone_names(feed))
    return [
        (utc_text(e["DTSTART"].dt), str(e["SUMMARY"]))
        for e in recurring_ical_events.of(calendar).between(date(years[0], 1, 1), date(years[1] + 1, 1, 1))
    ]


ENGINES = {
    "ical.js": by_icaljs,
    "libical": by_libical,
    "vobject": by_vobject,
    "recurring-ical-events": by_recurring_ical_events,
}


def mismatches(
    feed: bytes, expected: list[tuple[str, str]], years: tuple[int, int] = YEARS
) -> tuple[dict[str, tuple[int, int]], dict]:
    """Per engine: how many expected occurrences it misses (or puts at another time), how many it adds;
    then a few examples of each."""
    counts, examples = {}, {}
    for name, read in ENGINES.items():
        theirs = read(feed, years)
        missing, extra = sorted(set(expected) - set(theirs)), sorted(set(theirs) - set(expected))
        counts[name] = (len(missing), len(extra) + len(theirs) - len(set(theirs)))
        examples[name] = missing[:3], extra[:3]
    return counts, examples


def weekly(
    title: str, first: date, at: time, zone: str, skip: tuple[date, ...] = (), years: tuple[int, int] = YEARS
) -> list[tuple[str, str]]:
    """What zoneinfo says: each week's date at this clock time in the zone, in UTC."""
    days = (first + timedelta(weeks=n) for n in range(53 * (years[1] - first.year + 1)))
    return [
        (utc_text(datetime.combine(d, at, ZoneInfo(zone))), title)
        for d in days
        if years[0] <= d.year <= years[1] and d not in skip
    ]


SERIES = [
    ("Atelier du mardi", date(2027, 3, 30), time(18), "Europe/Paris"),
    ("Chorale du mercredi", date(2039, 3, 30), time(19), "Europe/Paris"),
    ("Feria de Santiago", date(2027, 1, 2), time(10), "America/Santiago"),
    ("Marché de Sydney", date(2027, 1, 3), time(9, 30), "Australia/Sydney"),
    ("Permanence de New York", date(2027, 1, 4), time(8), "America/New_York"),
    ("Réunion de La Réunion", date(2027, 1, 8), time(17), "Indian/Reunion"),
]


@requires_icaljs
@requires_libical
def test_every_engine_reads_every_occurrence_at_the_zoneinfo_time(member_client, db, monkeypatch):
    monkeypatch.setattr(ical, "utcnow", lambda: NOW)
    client, space, _user = member_client("member")
    expected = []
    for title, first, at, zone in SERIES:
        response = create(
            client,
            space,
            title=title,
            start_date=first.isoformat(),
            end_date=first.isoformat(),
            start_time=at.strftime("%H:%M"),
            end_time=at.replace(hour=at.hour + 1).strftime("%H:%M"),
            tz=zone,
            repeat="weekly",
            ends="never",
        )
        skip = ()
        if title == "Atelier du mardi":  # a cancelled date in summer time: an EXDATE with its TZID
            post(client, f"/s/{space.slug}/agenda/{event_id_of(response)}/cancel", {"at": "20271026T160000Z"})
            skip = (date(2027, 10, 26),)
        expected += weekly(title, first, at, zone, skip)
    feed = feed_for(client, space).data

    # The dates of the report that opened this check.
    assert ("2027-03-30T16:00Z", "Atelier du mardi") in expected
    assert ("2039-03-30T17:00Z", "Chorale du mercredi") in expected
    assert len(expected) == 3732
    counts, examples = mismatches(feed, expected)
    assert counts == dict.fromkeys(ENGINES, (0, 0)), examples


HISTORY = [
    ("Permanence de New York", date(2005, 1, 3), time(8), "America/New_York"),  # new rule in 2007
    ("Feria de Santiago", date(2010, 1, 2), time(10), "America/Santiago"),  # changed five times since
    ("Thé de Moscou", date(2010, 1, 7), time(17), "Europe/Moscow"),  # summer time for good in 2011, then +3
]


@requires_icaljs
@requires_libical
def test_series_begun_under_a_former_rule_of_their_zone_are_read_right_too(member_client, db, monkeypatch):
    monkeypatch.setattr(ical, "utcnow", lambda: NOW)
    client, space, _user = member_client("member")
    years, expected = (2005, 2040), []
    for title, first, at, zone in HISTORY:
        create(
            client,
            space,
            title=title,
            start_date=first.isoformat(),
            end_date=first.isoformat(),
            start_time=at.strftime("%H:%M"),
            end_time=at.replace(hour=at.hour + 1).strftime("%H:%M"),
            tz=zone,
            repeat="weekly",
            ends="never",
        )
        expected += weekly(title, first, at, zone, years=years)
    feed = feed_for(client, space).data

    counts, examples = mismatches(feed, expected, years)
    assert counts == dict.fromkeys(ENGINES, (0, 0)), examples
    assert "RDATE" not in feed.decode()


@requires_icaljs
@requires_libical
def test_an_ics_imported_into_two_spaces_keeps_both_copies_in_the_all_spaces_feed(
    app, member_client, make_space, make_member, db
):
    client, space, user = member_client("member")
    other = make_space(name="GUP des Tilleuls")
    make_member(other, user, "member")
    create(
        client,
        space,
        title="Atelier",
        start_date="2027-03-16",
        end_date="2027-03-16",
        repeat="weekly",
        ends="count",
        count="3",
    )
    exported = feed_for(client, space).data.decode()
    confirm_ics(client, other, upload_ics(client, other, exported))  # the same UID, now in both spaces
    assert post(client, "/agenda/subscribe").status_code == 302
    address = re.search(r"http://localhost(/ical/[\w-]+\.ics)", client.get("/agenda/").get_data(as_text=True)).group(1)
    feed = app.test_client().get(address).data
    again = app.test_client().get(address).data

    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(feed).walk("VEVENT")]
    assert len(uids) == len(set(uids)) == 2
    assert uids == [str(e["UID"]) for e in icalendar.Calendar.from_ical(again).walk("VEVENT")]  # stable
    stored = db.session.scalars(select(Event.uid).where(Event.space_id == space.id)).all()
    ours = [str(e["UID"]) for e in icalendar.Calendar.from_ical(feed_for(client, space).data).walk("VEVENT")]
    assert ours == stored  # the space's own feed keeps the UIDs it always had
    expected = sorted(
        (start, f"[{name}] Atelier")
        for name in (space.name, "GUP des Tilleuls")
        for start in ("2027-03-16T17:00Z", "2027-03-23T17:00Z", "2027-03-30T16:00Z")
    )
    for name in ("libical", "vobject", "ical.js"):
        assert sorted(ENGINES[name](feed, YEARS)) == expected, name


@pytest.mark.parametrize(
    "name, rules",
    [
        (
            "Europe/Paris",
            [
                ("DAYLIGHT", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "+0100", "+0200"),
                ("STANDARD", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "+0200", "+0100"),
            ],
        ),
        (
            "America/New_York",
            [
                ("DAYLIGHT", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", "-0500", "-0400"),
                ("STANDARD", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11", "-0400", "-0500"),
            ],
        ),
        (
            "Australia/Sydney",
            [
                ("STANDARD", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4", "+1100", "+1000"),
                ("DAYLIGHT", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=10", "+1000", "+1100"),
            ],
        ),
        (
            "America/Santiago",
            [
                ("STANDARD", "FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=4", "-0300", "-0400"),
                ("DAYLIGHT", "FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=9", "-0400", "-0300"),
            ],
        ),
        ("UTC", []),
        ("Indian/Reunion", []),
    ],
)
def test_each_zone_gets_the_rule_in_force_without_end(name, rules):
    from agora.agenda.vtimezone import observances, vtimezone

    parts = vtimezone(name, datetime(2026, 12, 2, tzinfo=UTC)).subcomponents
    assert [
        (p.name, p["RRULE"].to_ical().decode(), p["TZOFFSETFROM"].to_ical(), p["TZOFFSETTO"].to_ical())
        for p in parts
        if "RRULE" in p
    ] == rules
    new_year = datetime(2025, 1, 1, tzinfo=UTC).astimezone(ZoneInfo(name))  # the year before `since`
    assert parts[0]["DTSTART"].dt == new_year.replace(tzinfo=None)
    assert parts[0]["TZOFFSETFROM"].td == parts[0]["TZOFFSETTO"].td == new_year.utcoffset()
    assert len(parts) == 1 + len(rules)  # no other change since 2025, nor any RDATE
    assert observances.cache_info().maxsize == 128


@requires_icaljs
@requires_libical
def test_the_demo_spaces_series_read_right_in_every_engine(app, db, monkeypatch):
    from agora import demo
    from agora.agenda import services
    from agora.spaces.models import Space

    monday = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # the series then cross the spring change
    monkeypatch.setattr(demo, "utcnow", lambda: monday)
    monkeypatch.setattr(ical, "utcnow", lambda: monday)
    with app.test_request_context():
        demo.create_demo()
    db.session.commit()
    years = (2026, 2028)
    window = datetime(years[0], 1, 1, tzinfo=UTC), datetime(years[1] + 1, 1, 1, tzinfo=UTC)
    compared = 0
    for space in db.session.scalars(select(Space).order_by(Space.id)):
        expected = [
            (o.local_start().date().isoformat() if o.event.all_day else utc_text(o.start), o.event.title)
            for o in services.occurrences([space.id], *window)
        ]
        counts, examples = mismatches(ical.build_feed([space.id], space.name), expected, years)
        assert counts == dict.fromkeys(ENGINES, (0, 0)), (space.slug, examples)
        compared += len(expected)
    assert compared > 60  # weekly and monthly series on both sides of the spring change


def test_a_feed_written_differently_gets_a_new_etag_so_clients_take_it_at_once(member_client, monkeypatch):
    client, space, _user = member_client("member")
    create(client, space, title="Atelier du mardi", repeat="weekly", ends="never")
    before = feed_for(client, space).headers["ETag"]
    assert client.get(f"/s/{space.slug}/agenda.ics", headers={"If-None-Match": before}).status_code == 304
    monkeypatch.setattr(ical, "FORMAT", ical.FORMAT + 1)
    response = client.get(f"/s/{space.slug}/agenda.ics", headers={"If-None-Match": before})
    assert response.status_code == 200 and "BEGIN:VTIMEZONE" in response.get_data(as_text=True)
    assert response.headers["ETag"] != before
