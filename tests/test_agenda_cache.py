"""Agenda: expanded recurrence months are kept per process, and every change still shows at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cachetools import LRUCache
from sqlalchemy import text

from agora.agenda import recurrence
from agora.agenda.models import Event
from agora.core.time import utcnow
from tests.conftest import login, post
from tests.test_agenda import create, event_form, event_id_of

pytestmark = pytest.mark.usefixtures("dates_as_of")

#: Tuesdays at 18:00 in Paris from 8 December 2026, without end.
WEEKLY = {"title": "Atelier vélo", "start_date": "2026-12-08", "end_date": "2026-12-08", "repeat": "weekly"}


@pytest.fixture
def agenda(member_client):
    client, space, user = member_client("member")
    return client, space, user


def coming_keys(client, space, event_id) -> list[str]:
    """The dates the event's page offers (its coming occurrences), as their keys."""
    page = client.get(f"/s/{space.slug}/agenda/{event_id}/").get_data(as_text=True)
    return re.findall(r'name="at" value="(\w+)"', page)


def upcoming_on_home(client, space, title: str) -> int:
    """How many lines of the space home's « Prochainement » name this title."""
    page = client.get(f"/s/{space.slug}/").get_data(as_text=True)
    section = page.split('id="upcoming-heading"', 1)[1].split("</section>", 1)[0] if "upcoming-heading" in page else ""
    return section.count(f">{title}</a>")


def in_month(client, space, title: str, month: str = "2026-12") -> int:
    page = client.get(f"/s/{space.slug}/agenda/?view=month&month={month}").get_data(as_text=True)
    return page.count(title)


def seen(client, space, event_id, title: str) -> tuple[int, int, list[str]]:
    """What the home, the month grid and the event's page show: read twice, the second from the cache."""
    client.get(f"/s/{space.slug}/agenda/?view=month&month=2026-12")
    return upcoming_on_home(client, space, title), in_month(client, space, title), coming_keys(client, space, event_id)


def test_an_edited_series_shows_its_new_time_at_once(agenda):
    client, space, _user = agenda
    event_id = event_id_of(create(client, space, **WEEKLY))
    home, month, keys = seen(client, space, event_id, "Atelier vélo")
    assert home == 4 and month == 4  # 8, 15, 22 and 29 December
    assert keys[:2] == ["20261208T170000Z", "20261215T170000Z"]
    edited = event_form(**WEEKLY, start_time="19:30", end_time="21:00")
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/edit", edited).status_code == 302
    home, month, keys = seen(client, space, event_id, "Atelier vélo")
    assert keys[:2] == ["20261208T183000Z", "20261215T183000Z"]
    assert home == 4 and month == 4
    page = client.get(f"/s/{space.slug}/agenda/?from=2026-12-07").get_data(as_text=True)
    assert "19:30" in page and "18:00" not in page


def test_a_cancelled_date_disappears_at_once(agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(create(client, space, **WEEKLY))
    assert seen(client, space, event_id, "Atelier vélo")[:2] == (4, 4)
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/cancel", {"at": "20261215T170000Z"}).status_code == 302
    home, month, keys = seen(client, space, event_id, "Atelier vélo")
    assert home == 3 and month == 3
    assert "20261215T170000Z" not in keys and keys[:2] == ["20261208T170000Z", "20261222T170000Z"]
    assert db.session.get(Event, event_id).exdates == ["2026-12-15T17:00:00+00:00"]


def test_a_deleted_series_disappears_at_once(agenda):
    client, space, _user = agenda
    event_id = event_id_of(create(client, space, **WEEKLY))
    assert seen(client, space, event_id, "Atelier vélo")[:2] == (4, 4)
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/delete").status_code == 302
    assert upcoming_on_home(client, space, "Atelier vélo") == 0
    assert in_month(client, space, "Atelier vélo") == 0
    assert client.get(f"/s/{space.slug}/agenda/{event_id}/").status_code == 404


def test_a_change_written_by_another_process_shows_at_once(app, agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(create(client, space, **WEEKLY))
    assert seen(client, space, event_id, "Atelier vélo")[:2] == (4, 4)
    # Another process (a worker, `agora` on the command line) writes the row on its own connection:
    # every other fortnight, one date cancelled, a new version.
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE events SET rrule = :rule, exdates = :ex, sequence = sequence + 1, updated_at = :now WHERE id = :id"
            ),
            {
                "rule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
                "ex": '["2026-12-22T17:00:00+00:00"]',
                "now": utcnow() + timedelta(minutes=1),
                "id": event_id,
            },
        )
    db.session.expire_all()
    home, month, keys = seen(client, space, event_id, "Atelier vélo")
    assert home == 1 and month == 1  # 8 December; the 22nd is cancelled
    assert keys[:2] == ["20261208T170000Z", "20270105T170000Z"]


def test_a_space_never_sees_the_occurrences_of_another(agenda, make_space, make_member, make_user, app):
    client, space, user = agenda
    other = make_space("voisins", "Les voisins")
    neighbour = make_user("voisine")
    make_member(other, neighbour)
    theirs = app.test_client()
    login(theirs, "voisine")
    # The same rule from the same first date in both spaces: the very same dates, kept once.
    mine = event_id_of(create(client, space, **WEEKLY))
    event_id_of(create(theirs, other, **{**WEEKLY, "title": "Réunion des voisins"}))
    for _ in range(2):
        assert upcoming_on_home(client, space, "Atelier vélo") == 4
        assert upcoming_on_home(client, space, "Réunion des voisins") == 0
        assert upcoming_on_home(theirs, other, "Réunion des voisins") == 4
        assert upcoming_on_home(theirs, other, "Atelier vélo") == 0
        assert in_month(client, space, "Réunion des voisins") == 0
        assert in_month(theirs, other, "Atelier vélo") == 0
    # A date cancelled in one space stays in the other.
    post(client, f"/s/{space.slug}/agenda/{mine}/cancel", {"at": "20261215T170000Z"})
    assert in_month(client, space, "Atelier vélo") == 3
    assert in_month(theirs, other, "Réunion des voisins") == 4
    assert theirs.get(f"/s/{space.slug}/agenda/?view=month&month=2026-12").status_code == 404


RULES = [
    ("FREQ=WEEKLY;BYDAY=TU", datetime(2026, 12, 8, 17, 0, tzinfo=UTC), "Europe/Paris"),
    ("FREQ=DAILY;COUNT=40", datetime(2027, 3, 1, 7, 30, tzinfo=UTC), "Europe/Paris"),  # across summer time
    ("FREQ=MONTHLY;BYDAY=-1FR", datetime(2025, 1, 31, 18, 0, tzinfo=UTC), "America/New_York"),
    ("FREQ=YEARLY;UNTIL=20300101T000000Z", datetime(2024, 2, 29, 12, 0, tzinfo=UTC), "Europe/Paris"),
    ("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Paris"),
]


@pytest.mark.parametrize("rule, first, zone", RULES)
def test_kept_months_give_the_dates_a_full_expansion_gives(rule, first, zone, monkeypatch):
    monkeypatch.setattr(recurrence, "_months", LRUCache(maxsize=200, getsizeof=lambda dates: len(dates) + 1))
    windows = [(datetime(2026, 12, 2, 9, 17), 30), (datetime(2027, 2, 22), 42), (datetime(2027, 3, 27, 23), 400)]
    for _round in range(2):  # filled, then read back
        for start, days in windows:
            end = start + timedelta(days=days)
            expected = recurrence.local_starts(rule, first, zone, after=start, before=end)
            assert recurrence.window_starts(rule, first, zone, start, end) == expected


def test_the_cache_stays_within_its_bound(monkeypatch):
    bounded = LRUCache(maxsize=60, getsizeof=lambda dates: len(dates) + 1)
    monkeypatch.setattr(recurrence, "_months", bounded)
    after, before = datetime(2027, 1, 1), datetime(2027, 2, 28, 23, 59)
    for n in range(40):  # 40 series of ~9 dates over two months: far more than 60 dates
        first = datetime(2026, 1, 1, 8, tzinfo=UTC) + timedelta(hours=n)
        assert len(recurrence.window_starts("FREQ=WEEKLY", first, "Europe/Paris", after, before)) in (8, 9)
        assert bounded.currsize <= 60
    assert len(bounded) < 40 * 2
