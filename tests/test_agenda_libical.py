"""The feed read by libical (Evolution's engine), independently of our own code, across DST.

Needs Debian's gir1.2-ical-3.0 and python3-gi for /usr/bin/python3; CI installs them and sets
AGORA_REQUIRE_LIBICAL=1 so that this check can never be skipped there.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agora.agenda import services
from tests.conftest import post
from tests.test_agenda import create, event_id_of, feed_for

SCRIPT = Path(__file__).with_name("libical_expand.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def libical_available() -> bool:
    probe = "import gi; gi.require_version('ICalGLib', '3.0'); from gi.repository import ICalGLib"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


requires_libical = pytest.mark.skipif(
    not libical_available() and not os.environ.get("AGORA_REQUIRE_LIBICAL"),
    reason="libical (gir1.2-ical-3.0, python3-gi) is not installed; CI installs it",
)


@requires_libical
def test_libical_expands_the_feed_exactly_as_we_do(member_client, db):
    client, space, _user = member_client("member")
    spring = event_id_of(
        create(
            client,
            space,
            title="Atelier du mardi",
            start_date="2027-03-16",
            end_date="2027-03-16",
            repeat="weekly",
            ends="count",
            count="4",
        )
    )
    create(
        client,
        space,
        title="Permanence",
        start_date="2027-10-19",
        end_date="2027-10-19",
        start_time="09:30",
        end_time="11:00",
        repeat="weekly",
        ends="until",
        until="2027-11-02",
    )
    create(
        client,
        space,
        title="Marche du 2e jeudi",
        start_date="2027-02-11",
        end_date="2027-02-11",
        repeat="monthly_weekday",
        ends="count",
        count="12",
    )
    create(
        client,
        space,
        title="Brocante",
        start_date="2027-05-22",
        end_date="2027-05-22",
        all_day="y",
        start_time="",
        end_time="",
    )
    post(client, f"/s/{space.slug}/agenda/{spring}/cancel", {"at": "20270323T170000Z"})
    post(
        client,
        f"/s/{space.slug}/agenda/{spring}/occurrence",
        {
            "at": "20270330T160000Z",
            "scope": "this",
            "title": "Atelier (exceptionnel)",
            "start_date": "2027-03-30",
            "end_date": "2027-03-30",
            "start_time": "19:00",
            "end_time": "21:00",
            "tz": "Europe/Paris",
            "category": "0",
            "repeat": "none",
            "interval": "1",
            "ends": "never",
        },
    )
    feed = feed_for(client, space).data

    result = subprocess.run([SYSTEM_PYTHON, str(SCRIPT), "2027", "2027"], input=feed, capture_output=True, check=True)
    theirs = [line.split("\t") for line in result.stdout.decode("utf-8").splitlines()]

    ours = []
    for o in services.occurrences([space.id], datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)):
        if o.event.all_day:
            start = o.start.astimezone(services.ZoneInfo(o.event.tz)).date().isoformat()
        else:
            start = o.start.strftime("%Y-%m-%dT%H:%MZ")
        ours.append([start, o.event.title])
    assert sorted(theirs) == sorted(ours)
    # Spot checks on both sides of each change of time.
    assert ["2027-03-16T17:00Z", "Atelier du mardi"] in theirs
    assert ["2027-03-30T17:00Z", "Atelier (exceptionnel)"] in theirs
    assert ["2027-04-06T16:00Z", "Atelier du mardi"] in theirs
    assert ["2027-10-26T07:30Z", "Permanence"] in theirs  # still summer time (ends 31 October)
    assert ["2027-11-02T08:30Z", "Permanence"] in theirs
    assert ["2027-03-23T17:00Z", "Atelier du mardi"] not in theirs
