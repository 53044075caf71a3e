"""Agenda: events and series, DST-proof recurrence, cancelled dates, views, iCal feeds and tokens."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from sqlalchemy import func, select

from agora.agenda import services
from agora.agenda.models import Event, EventCategory, IcalToken
from agora.core.time import utcnow
from agora.spaces.models import Membership, Space
from tests.conftest import login, post, select_options

#: Their events have fixed dates (summer-time changes, feeds of given weeks): seen from a fixed day.
pytestmark = pytest.mark.usefixtures("dates_as_of")

PARIS = ZoneInfo("Europe/Paris")


def event_form(**overrides) -> dict:
    data = {
        "title": "Plénière du conseil",
        "start_date": "2026-12-08",
        "start_time": "18:00",
        "end_date": "2026-12-08",
        "end_time": "20:00",
        "tz": "Europe/Paris",
        "location": "12 rue des Tilleuls",
        "category": "0",
        "repeat": "none",
        "interval": "1",
        "ends": "never",
    }
    data.update(overrides)
    return data


def create(client, space, **overrides):
    return post(client, f"/s/{space.slug}/agenda/new", event_form(**overrides))


def event_id_of(response) -> int:
    return int(re.search(r"/agenda/(\d+)/", response.location).group(1))


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def agenda(member_client):
    client, space, user = member_client("member")
    return client, space, user


def test_member_adds_an_event_seen_in_list_month_and_home(agenda, db):
    client, space, _user = agenda
    response = create(client, space)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Plénière du conseil" in page and "12 rue des Tilleuls" in page
    listing = client.get(f"/s/{space.slug}/agenda/?from=2026-12-01").get_data(as_text=True)
    assert "Plénière du conseil" in listing and "18:00" in listing
    month = client.get(f"/s/{space.slug}/agenda/?view=month&month=2026-12").get_data(as_text=True)
    assert '<table class="month">' in month and "Plénière du conseil" in month
    event = db.session.scalar(select(Event))
    assert event.starts_at == datetime(2026, 12, 8, 17, 0, tzinfo=UTC)  # 18:00 in Paris, winter


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"end_time": "17:00"}, "La fin ne peut pas être avant le début"),
        ({"title": "  "}, "Donnez un titre"),
        ({"repeat": "weekly", "ends": "until", "until": "2026-11-01"}, "avant le début"),
        ({"repeat": "weekly", "ends": "count", "count": "0"}, "Entre 1 et 1000"),
        ({"repeat": "sometimes"}, "valide"),
        ({"url": "javascript:alert(1)"}, "https://"),
        ({"start_time": ""}, "heure de début"),
        ({"tz": "Mars/Olympus"}, "Ce fuseau horaire n'existe pas : choisissez-en un dans la liste."),
        ({"tz": "localtime"}, "Ce fuseau horaire n'existe pas"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(agenda, db, overrides, message):
    client, space, _user = agenda
    response = create(client, space, **overrides)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert count(db, Event) == 0


def test_event_form_offers_the_french_zones_by_name_then_the_others(agenda, app, monkeypatch):
    client, space, _user = agenda
    options = select_options(client.get(f"/s/{space.slug}/agenda/new").get_data(as_text=True), "tz")
    french = [(o.value, o.label) for o in options if o.group == "France et outre-mer"]
    assert french[:9] == [
        ("Europe/Paris", "Paris (France métropolitaine)"),
        ("America/Guadeloupe", "Guadeloupe"),
        ("America/Martinique", "Martinique"),
        ("America/Cayenne", "Guyane"),
        ("Indian/Reunion", "La Réunion"),
        ("Indian/Mayotte", "Mayotte"),
        ("Pacific/Noumea", "Nouvelle-Calédonie"),
        ("Pacific/Tahiti", "Polynésie française (Tahiti)"),
        ("America/Miquelon", "Saint-Pierre-et-Miquelon"),
    ]
    assert len(french) < 15 and options[: len(french)] == [o for o in options if o.group == "France et outre-mer"]
    others = [o for o in options if o.group == "Autres fuseaux"]
    assert len(options) == len(french) + len(others) and len(others) > 300  # nothing outside the two groups
    assert ("America/New_York", "America/New York") in [(o.value, o.label) for o in others]
    assert "Europe/Paris" not in [o.value for o in others]
    assert [o.value for o in options if o.selected] == ["Europe/Paris"]
    # The server's zone is the one picked for a new event, wherever it is in the list.
    monkeypatch.setitem(app.config, "DEFAULT_TIMEZONE", "Indian/Reunion")
    options = select_options(client.get(f"/s/{space.slug}/agenda/new").get_data(as_text=True), "tz")
    assert [o.label for o in options if o.selected] == ["La Réunion"]
    monkeypatch.setitem(app.config, "DEFAULT_TIMEZONE", "Europe/Brussels")
    options = select_options(client.get(f"/s/{space.slug}/agenda/new").get_data(as_text=True), "tz")
    assert [(o.value, o.group) for o in options if o.selected] == [("Europe/Brussels", "Autres fuseaux")]


def test_a_zone_the_list_does_not_offer_is_kept_when_the_event_is_saved_again(agenda, db):
    """« UTC » (an imported calendar's) is a real zone: accepted, and selected again when editing."""
    client, space, _user = agenda
    response = create(client, space, tz="UTC")
    assert response.status_code == 302
    event_id = event_id_of(response)
    page = client.get(f"/s/{space.slug}/agenda/{event_id}/edit").get_data(as_text=True)
    assert [(o.value, o.group) for o in select_options(page, "tz") if o.selected] == [("UTC", "Autres fuseaux")]
    assert create(client, space, tz="America/Cayenne").status_code == 302
    assert sorted(db.session.scalars(select(Event.tz))) == ["America/Cayenne", "UTC"]


def test_category_of_another_space_is_refused(agenda, make_space, app, db):
    client, space, _user = agenda
    other = make_space()
    with app.app_context():
        foreign = EventCategory(space_id=other.id, name="Ailleurs")
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
    assert create(client, space, category=str(foreign_id)).status_code == 400
    assert count(db, Event) == 0


def test_weekly_series_keeps_its_wall_clock_time_across_both_dst_changes(agenda, db):
    client, space, _user = agenda
    create(
        client,
        space,
        title="Atelier numérique",
        start_date="2026-03-17",
        end_date="2026-03-17",
        repeat="weekly",
        weekdays=["TU"],
        ends="count",
        count="4",
    )
    create(
        client,
        space,
        title="Permanence",
        start_date="2026-10-20",
        end_date="2026-10-20",
        repeat="weekly",
        ends="count",
        count="3",
    )
    found = services.occurrences([space.id], datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    local = [(o.event.title, o.start.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")) for o in found]
    assert local == [
        ("Atelier numérique", "2026-03-17 18:00"),
        ("Atelier numérique", "2026-03-24 18:00"),
        ("Atelier numérique", "2026-03-31 18:00"),  # first week of summer time
        ("Atelier numérique", "2026-04-07 18:00"),
        ("Permanence", "2026-10-20 18:00"),
        ("Permanence", "2026-10-27 18:00"),  # first week of winter time
        ("Permanence", "2026-11-03 18:00"),
    ]
    utc_hours = [o.start.hour for o in found]
    assert utc_hours == [17, 17, 16, 16, 16, 17, 17]


def feed_for(client, space):
    response = client.get(f"/s/{space.slug}/agenda.ics")
    assert response.status_code == 200
    return response


def test_feed_is_read_right_by_an_independent_expander_across_dst(agenda, db):
    client, space, _user = agenda
    create(
        client,
        space,
        title="Marche exploratoire",
        start_date="2026-03-10",
        end_date="2026-03-10",
        start_time="09:30",
        end_time="11:00",
        repeat="weekly",
        ends="until",
        until="2026-04-07",
    )
    response = feed_for(client, space)
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.data)
    starts = [e["DTSTART"].dt for e in recurring_ical_events.of(calendar).between(date(2026, 3, 1), date(2026, 5, 1))]
    assert [s.astimezone(PARIS).strftime("%m-%d %H:%M") for s in starts] == [
        "03-10 09:30",
        "03-17 09:30",
        "03-24 09:30",
        "03-31 09:30",
        "04-07 09:30",
    ]
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 8, 7, 7]


def test_feed_follows_rfc_5545_and_7986(agenda, db):
    client, space, _user = agenda
    create(
        client,
        space,
        title="Fête de quartier " + "très longue " * 8,
        start_date="2026-06-20",
        end_date="2026-06-21",
        all_day="y",
        start_time="",
        end_time="",
    )
    create(client, space, title="Conseil", repeat="monthly_weekday", ends="count", count="6")
    raw = feed_for(client, space).data
    text = raw.decode("utf-8")
    lines = text.split("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    for needle in (
        "VERSION:2.0",
        "PRODID:",
        "X-WR-CALNAME:",
        "NAME:",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Paris",
        "DTSTART;VALUE=DATE:20260620",
        "DTEND;VALUE=DATE:20260622",
        "DTSTART;TZID=Europe/Paris:20261208T180000",
    ):
        assert needle in text.replace("\r\n ", ""), needle
    assert "CLASS:PRIVATE" not in text
    assert text.count("BEGIN:VTIMEZONE") == 1
    rule = re.search(r"RRULE:(\S+)", text[text.index("BEGIN:VEVENT") :]).group(1)  # not a VTIMEZONE's
    assert sorted(rule.split(";")) == ["BYDAY=2TU", "COUNT=6", "FREQ=MONTHLY"]
    calendar = icalendar.Calendar.from_ical(raw)
    for component in calendar.walk():
        assert not component.errors, component.errors
    descriptions = [str(e.get("DESCRIPTION", "")) for e in calendar.walk("VEVENT")]
    assert any("12 rue des Tilleuls" in d for d in descriptions)  # the address is in the description too


def test_cancelled_date_goes_out_as_exdate_of_the_same_kind(agenda, db):
    client, space, _user = agenda
    # Tuesdays 16, 23 and 30 March 2027; summer time starts on the 28th.
    event_id = event_id_of(
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
    )
    page = client.get(f"/s/{space.slug}/agenda/{event_id}/").get_data(as_text=True)
    keys = re.findall(r'name="at" value="(\w+)"', page)
    assert keys == ["20270316T170000Z", "20270323T170000Z", "20270330T160000Z"]
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/cancel", {"at": keys[2]}).status_code == 302
    event = db.session.get(Event, event_id)
    assert event.exdates == ["2027-03-30T16:00:00+00:00"] and event.sequence == 1
    text = feed_for(client, space).data.decode()
    assert "EXDATE;TZID=Europe/Paris:20270330T180000" in text
    calendar = icalendar.Calendar.from_ical(text)
    starts = [
        e["DTSTART"].dt.astimezone(PARIS).day
        for e in recurring_ical_events.of(calendar).between(date(2027, 3, 1), date(2027, 5, 1))
    ]
    assert starts == [16, 23]
    assert "20270330T160000Z" not in client.get(f"/s/{space.slug}/agenda/{event_id}/").get_data(as_text=True)
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/cancel", {"at": "20270331T160000Z"}).status_code == 404
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/cancel", {"at": "n'importe"}).status_code == 400


def test_editing_moves_sequence_and_last_modified(agenda, db, frozen_clock):
    client, space, _user = agenda
    event_id = event_id_of(create(client, space))
    before = db.session.get(Event, event_id).updated_at
    frozen_clock.advance(minutes=5)
    assert (
        post(client, f"/s/{space.slug}/agenda/{event_id}/edit", event_form(title="Plénière déplacée")).status_code
        == 302
    )
    event = db.session.get(Event, event_id)
    assert event.sequence == 1 and event.updated_at > before and event.title == "Plénière déplacée"
    text = feed_for(client, space).data.decode()
    assert "SEQUENCE:1" in text and f"UID:{event.uid}" in text


def test_etag_gives_304_until_something_changes(agenda, db):
    client, space, _user = agenda
    create(client, space)
    first = feed_for(client, space)
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = client.get(f"/s/{space.slug}/agenda.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    create(client, space, title="Nouvel événement")
    changed = client.get(f"/s/{space.slug}/agenda.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def make_token(client, space) -> str:
    assert post(client, f"/s/{space.slug}/agenda/subscribe").status_code == 302
    page = client.get(f"/s/{space.slug}/agenda/subscribe").get_data(as_text=True)
    assert "webcal://" in page
    return re.search(r"http://localhost(/ical/[\w-]+\.ics)", page).group(1)


def test_private_feed_works_without_a_session_and_is_revocable(app, agenda, db):
    client, space, user = agenda
    create(client, space)
    address = make_token(client, space)
    calendar_app = app.test_client()  # a phone's calendar: no cookie
    response = calendar_app.get(address)
    assert response.status_code == 200 and b"Pl\xc3\xa9ni\xc3\xa8re du conseil" in response.data
    token = db.session.scalar(select(IcalToken))
    assert token.token_hash not in address and token.last_used_at is not None
    profile = client.get("/profile").get_data(as_text=True)
    assert space.name in profile and "utilisée le" in profile
    assert post(client, f"/agenda/subscriptions/{token.id}/revoke").status_code == 302
    assert calendar_app.get(address).status_code == 404
    assert calendar_app.get("/ical/pas-un-vrai-jeton.ics").status_code == 404


def test_a_new_address_replaces_the_old_one(app, agenda):
    client, space, _user = agenda
    first = make_token(client, space)
    second = make_token(client, space)
    assert first != second
    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200


def test_removed_members_feed_stops_at_once(app, agenda, db):
    client, space, user = agenda
    address = make_token(client, space)
    db.session.delete(db.session.scalar(select(Membership).where(Membership.user_id == user.id)))
    db.session.commit()
    assert app.test_client().get(address).status_code == 404


def test_all_my_spaces_feed_names_each_space(app, agenda, make_space, make_member, db):
    client, space, user = agenda
    other = make_space(name="GUP des Tilleuls")
    make_member(other, user, "member")
    create(client, space, title="Plénière")
    create(client, other, title="Diagnostic en marchant")
    assert post(client, "/agenda/subscribe").status_code == 302
    page = client.get("/agenda/").get_data(as_text=True)
    assert "Plénière" in page or "Rien de prévu" in page
    address = re.search(r"http://localhost(/ical/[\w-]+\.ics)", page).group(1)
    text = app.test_client().get(address).data.decode()
    assert f"[{space.name}] Plénière" in text and "[GUP des Tilleuls] Diagnostic en marchant" in text


def test_readers_read_but_do_not_write(member_client, db):
    client, space, _user = member_client("reader")
    assert client.get(f"/s/{space.slug}/agenda/").status_code == 200
    assert create(client, space).status_code == 403
    assert count(db, Event) == 0


def test_other_peoples_events_cannot_be_edited_by_members(app, agenda, make_user, make_member, db):
    client, space, _user = agenda
    event_id = event_id_of(create(client, space))
    other = make_user("voisine")
    make_member(space, other, "member")
    neighbour = app.test_client()
    login(neighbour, "voisine")
    assert post(neighbour, f"/s/{space.slug}/agenda/{event_id}/edit", event_form(title="Piraté")).status_code == 403
    assert post(neighbour, f"/s/{space.slug}/agenda/{event_id}/delete").status_code == 403
    assert db.session.get(Event, event_id).title == "Plénière du conseil"


def test_upcoming_events_on_the_space_home(agenda, db):
    client, space, _user = agenda
    tomorrow = (utcnow().astimezone(PARIS) + timedelta(days=1)).date().isoformat()
    create(client, space, title="Goûter partagé", start_date=tomorrow, end_date=tomorrow)
    page = client.get(f"/s/{space.slug}/").get_data(as_text=True)
    assert "Prochainement" in page and "Goûter partagé" in page


def test_bad_dates_in_the_address_are_400(agenda):
    client, space, _user = agenda
    assert client.get(f"/s/{space.slug}/agenda/?from=2026-13-45").status_code == 400
    assert client.get(f"/s/{space.slug}/agenda/?view=month&month=demain").status_code == 400


def test_month_and_list_pages_have_bounded_queries(app, agenda, db):
    from tests.test_queries import count_queries

    client, space, _user = agenda

    def queries():
        with count_queries(db.engine) as statements:
            assert client.get(f"/s/{space.slug}/agenda/?view=month&month=2026-12").status_code == 200
            assert client.get(f"/s/{space.slug}/agenda/?from=2026-12-01").status_code == 200
        return len(statements)

    create(client, space, repeat="weekly", ends="count", count="3")
    small = queries()
    for n in range(15):
        create(client, space, title=f"Atelier {n}", repeat="weekly", ends="count", count="10")
    assert queries() == small


def test_space_deletion_takes_its_events_and_tokens(app, agenda, db):
    client, space, _user = agenda
    create(client, space)
    make_token(client, space)
    with app.test_request_context():
        from agora.spaces.services import delete_space

        delete_space(db.session.get(Space, space.id), space.slug, actor=None)
        db.session.commit()
    assert count(db, Event) == 0 and count(db, IcalToken) == 0


def expanded(client, space, start=date(2027, 3, 1), end=date(2027, 5, 1)):
    calendar = icalendar.Calendar.from_ical(feed_for(client, space).data)

    def shown(value):
        return (value.astimezone(PARIS) if isinstance(value, datetime) else value).strftime("%m-%d %H:%M")

    return [(str(e["SUMMARY"]), shown(e["DTSTART"].dt)) for e in recurring_ical_events.of(calendar).between(start, end)]


def test_one_date_of_a_series_is_changed_with_a_recurrence_id(agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(
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
    )
    url = f"/s/{space.slug}/agenda/{event_id}/occurrence"
    form = client.get(f"{url}?at=20270330T160000Z").get_data(as_text=True)
    assert 'value="2027-03-30"' in form and 'value="18:00"' in form
    response = post(
        client,
        url,
        event_form(
            at="20270330T160000Z",
            scope="this",
            title="Atelier spécial",
            start_date="2027-03-30",
            end_date="2027-03-30",
            start_time="19:00",
            end_time="21:00",
        ),
    )
    assert response.status_code == 302
    text = feed_for(client, space).data.decode()
    assert "RECURRENCE-ID;TZID=Europe/Paris:20270330T180000" in text
    assert expanded(client, space) == [
        ("Atelier", "03-16 18:00"),
        ("Atelier", "03-23 18:00"),
        ("Atelier spécial", "03-30 19:00"),
    ]
    found = services.occurrences([space.id], datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
    assert [o.event.title for o in found] == ["Atelier", "Atelier", "Atelier spécial"]
    override = db.session.scalar(select(Event).where(Event.parent_id == event_id))
    assert post(client, f"/s/{space.slug}/agenda/{override.id}/delete").status_code == 302  # cancels that date
    assert expanded(client, space) == [("Atelier", "03-16 18:00"), ("Atelier", "03-23 18:00")]
    assert db.session.get(Event, event_id).exdates == ["2027-03-30T16:00:00+00:00"]


def test_this_date_and_the_following_ones(agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(
        create(
            client,
            space,
            title="Permanence",
            start_date="2027-03-16",
            end_date="2027-03-16",
            repeat="weekly",
            ends="count",
            count="4",
        )
    )
    form = client.get(f"/s/{space.slug}/agenda/{event_id}/occurrence?at=20270330T160000Z").get_data(as_text=True)
    assert re.search(r'id="count"[^>]*value="2"', form)  # the dates left in the series
    response = post(
        client,
        f"/s/{space.slug}/agenda/{event_id}/occurrence",
        event_form(
            at="20270330T160000Z",
            scope="following",
            title="Permanence (soir)",
            start_date="2027-03-30",
            end_date="2027-03-30",
            start_time="20:00",
            end_time="21:00",
            repeat="weekly",
            ends="count",
            count="2",
        ),
    )
    assert response.status_code == 302
    assert expanded(client, space) == [
        ("Permanence", "03-16 18:00"),
        ("Permanence", "03-23 18:00"),
        ("Permanence (soir)", "03-30 20:00"),
        ("Permanence (soir)", "04-06 20:00"),
    ]
    assert count(db, Event) == 2
    assert db.session.get(Event, event_id).sequence == 1


def test_a_date_outside_the_series_cannot_be_changed(agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(
        create(client, space, start_date="2027-03-16", end_date="2027-03-16", repeat="weekly", ends="count", count="2")
    )
    response = post(
        client,
        f"/s/{space.slug}/agenda/{event_id}/occurrence",
        event_form(at="20270317T170000Z", scope="this", start_date="2027-03-17", end_date="2027-03-17"),
    )
    assert response.status_code == 404
    assert count(db, Event) == 1


GOOGLE_EXPORT = """BEGIN:VCALENDAR\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
VERSION:2.0\r
X-WR-CALNAME:Centre social\r
BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:atelier-couture@centre-social.example\r
DTSTAMP:20270101T000000Z\r
DTSTART;TZID=Europe/Paris:20270316T140000\r
DTEND;TZID=Europe/Paris:20270316T160000\r
RRULE:FREQ=WEEKLY;COUNT=4\r
EXDATE;TZID=Europe/Paris:20270323T140000\r
SUMMARY:Atelier couture\r
LOCATION:Centre social\\, 3 place du Marché\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:atelier-couture@centre-social.example\r
DTSTAMP:20270101T000000Z\r
RECURRENCE-ID;TZID=Europe/Paris:20270330T140000\r
DTSTART;TZID=Europe/Paris:20270330T150000\r
DTEND;TZID=Europe/Paris:20270330T170000\r
SUMMARY:Atelier couture (exceptionnel)\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:brocante@centre-social.example\r
DTSTAMP:20270101T000000Z\r
DTSTART;VALUE=DATE:20270522\r
DTEND;VALUE=DATE:20270523\r
SUMMARY:Brocante du quartier\r
END:VEVENT\r
END:VCALENDAR\r
"""


def upload_ics(client, space, text: str):
    import io

    return post(
        client,
        f"/s/{space.slug}/agenda/import",
        {"file": (io.BytesIO(text.encode()), "agenda.ics")},
        content_type="multipart/form-data",
    )


def confirm_ics(client, space, preview_response):
    data = re.search(r'name="data" value="([^"]+)"', preview_response.get_data(as_text=True)).group(1)
    return post(client, f"/s/{space.slug}/agenda/import/confirm", {"data": data})


def test_import_previews_then_imports_once_and_updates_changes(agenda, db):
    client, space, _user = agenda
    preview = upload_ics(client, space, GOOGLE_EXPORT)
    assert preview.status_code == 200
    assert "ajouter 3 événements," in preview.get_data(as_text=True)
    assert count(db, Event) == 0  # nothing before confirmation
    assert confirm_ics(client, space, preview).status_code == 302
    assert count(db, Event) == 3
    assert expanded(client, space, date(2027, 3, 1), date(2027, 6, 1)) == [
        ("Atelier couture", "03-16 14:00"),
        ("Atelier couture (exceptionnel)", "03-30 15:00"),
        ("Atelier couture", "04-06 14:00"),
        ("Brocante du quartier", "05-22 00:00"),
    ]

    again = upload_ics(client, space, GOOGLE_EXPORT)
    assert "ajouter 0 événement, en mettre à jour 0 ; 3 sont déjà à jour" in again.get_data(as_text=True)
    confirm_ics(client, space, again)
    assert count(db, Event) == 3

    changed = upload_ics(
        client, space, GOOGLE_EXPORT.replace("SUMMARY:Brocante du quartier", "SUMMARY:Grande brocante")
    )
    assert "en mettre à jour 1" in changed.get_data(as_text=True)
    confirm_ics(client, space, changed)
    assert db.session.scalar(select(Event.title).where(Event.all_day.is_(True))) == "Grande brocante"
    assert count(db, Event) == 3


@pytest.mark.parametrize(
    "text, status, message",
    [
        ("ceci n'est pas un agenda", 400, "pas un agenda iCalendar"),
        ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n", 400, "aucun événement"),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:2027-99-99\r\n"
            "SUMMARY:Brocante\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            400,
            "« Brocante » (date illisible) : sa date de début est illisible",
        ),
        (GOOGLE_EXPORT + "X-PAD:" + "x" * 2000, 413, "2 Mo"),
    ],
)
def test_bad_ics_files_are_refused_and_nothing_is_imported(agenda, db, monkeypatch, text, status, message):
    from agora.agenda import importer

    # A small limit keeps the test client's upload in memory; the rule is the same at 2 MB.
    monkeypatch.setattr(importer, "MAX_BYTES", len(GOOGLE_EXPORT) + 1000)
    client, space, _user = agenda
    response = upload_ics(client, space, text)
    assert response.status_code == status
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert count(db, Event) == 0


def test_our_own_feed_imports_into_another_space_unchanged(agenda, make_space, make_member, db):
    client, space, user = agenda
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
    other = make_space()
    make_member(other, user, "member")
    exported = feed_for(client, space).data.decode()
    confirm_ics(client, other, upload_ics(client, other, exported))
    assert expanded(client, other) == expanded(client, space)


@pytest.fixture
def rooms(app, agenda, db):
    client, space, _user = agenda
    from agora.agenda.models import Resource

    room, projector = (
        Resource(space_id=space.id, name="Salle polyvalente"),
        Resource(space_id=space.id, name="Vidéoprojecteur"),
    )
    db.session.add_all([room, projector])
    db.session.commit()
    return room.id, projector.id


def test_booking_a_taken_room_is_refused_naming_the_other_event(agenda, rooms, db):
    client, space, _user = agenda
    room, projector = rooms
    assert (
        create(
            client,
            space,
            title="Permanence CAF",
            start_date="2027-03-16",
            end_date="2027-03-16",
            repeat="weekly",
            ends="count",
            count="4",
            resources=[str(room)],
        ).status_code
        == 302
    )
    response = create(
        client,
        space,
        title="Réunion GUP",
        start_date="2027-03-30",
        end_date="2027-03-30",
        start_time="19:00",
        end_time="21:00",
        resources=[str(room), str(projector)],
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "« Salle polyvalente » est déjà réservé par « Permanence CAF »" in text and "30/03/2027" in text
    assert count(db, Event) == 1
    # Before the series starts, or with only the projector: fine.
    assert (
        create(
            client,
            space,
            title="Réunion GUP",
            start_date="2027-03-30",
            end_date="2027-03-30",
            start_time="19:00",
            end_time="21:00",
            resources=[str(projector)],
        ).status_code
        == 302
    )
    assert (
        create(
            client,
            space,
            title="Atelier",
            start_date="2027-03-16",
            end_date="2027-03-16",
            start_time="20:00",
            end_time="21:00",
            resources=[str(room)],
        ).status_code
        == 302
    )


def test_a_cancelled_date_frees_the_room(agenda, rooms, db):
    client, space, _user = agenda
    room, _projector = rooms
    series = event_id_of(
        create(
            client,
            space,
            title="Permanence",
            start_date="2027-03-16",
            end_date="2027-03-16",
            repeat="weekly",
            ends="count",
            count="3",
            resources=[str(room)],
        )
    )
    post(client, f"/s/{space.slug}/agenda/{series}/cancel", {"at": "20270323T170000Z"})
    assert (
        create(
            client, space, title="Réunion", start_date="2027-03-23", end_date="2027-03-23", resources=[str(room)]
        ).status_code
        == 302
    )


def test_moving_one_date_onto_a_booking_is_refused(agenda, rooms, db):
    client, space, _user = agenda
    room, _projector = rooms
    create(client, space, title="Loto", start_date="2027-03-31", end_date="2027-03-31", resources=[str(room)])
    series = event_id_of(
        create(
            client,
            space,
            title="Permanence",
            start_date="2027-03-16",
            end_date="2027-03-16",
            repeat="weekly",
            ends="count",
            count="3",
            resources=[str(room)],
        )
    )
    response = post(
        client,
        f"/s/{space.slug}/agenda/{series}/occurrence",
        event_form(at="20270330T160000Z", scope="this", start_date="2027-03-31", end_date="2027-03-31"),
    )
    assert response.status_code == 409 and "Loto" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.parent_id.is_not(None))) == 0


def test_a_resource_of_another_space_cannot_be_booked(agenda, make_space, db):
    client, space, _user = agenda
    other = make_space()
    from agora.agenda.models import Resource

    foreign = Resource(space_id=other.id, name="Ailleurs")
    db.session.add(foreign)
    db.session.commit()
    assert create(client, space, resources=[str(foreign.id)]).status_code == 400
    assert count(db, Event) == 0


def test_week_view_shows_seven_days_from_monday(agenda):
    client, space, _user = agenda
    create(client, space, title="Atelier jardin", start_date="2027-03-18", end_date="2027-03-18")
    page = client.get(f"/s/{space.slug}/agenda/?view=week&date=2027-03-20").get_data(as_text=True)
    assert page.count('class="agenda-day card') == 7
    assert page.index("lundi 15 mars 2027") < page.index("Atelier jardin") < page.index("dimanche 21 mars 2027")
    assert "date=2027-03-08" in page and "date=2027-03-22" in page


def test_the_session_feed_sends_a_stranger_to_login(app, agenda):
    _client, space, _user = agenda
    response = app.test_client().get(f"/s/{space.slug}/agenda.ics")
    assert response.status_code == 302 and "/login" in response.location


def test_changing_the_time_of_a_series_forgets_its_one_off_changes(agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(
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
    )
    post(client, f"/s/{space.slug}/agenda/{event_id}/cancel", {"at": "20270323T170000Z"})
    post(
        client,
        f"/s/{space.slug}/agenda/{event_id}/occurrence",
        event_form(
            at="20270330T160000Z", scope="this", title="Atelier déplacé", start_date="2027-03-31", end_date="2027-03-31"
        ),
    )
    post(
        client,
        f"/s/{space.slug}/agenda/{event_id}/edit",
        event_form(
            title="Atelier",
            start_date="2027-03-16",
            end_date="2027-03-16",
            start_time="19:00",
            end_time="21:00",
            repeat="weekly",
            ends="count",
            count="3",
        ),
    )
    assert expanded(client, space) == [
        ("Atelier", "03-16 19:00"),
        ("Atelier", "03-23 19:00"),
        ("Atelier", "03-30 19:00"),
    ]


def test_all_day_series_and_one_date_of_it(agenda, db):
    client, space, _user = agenda
    event_id = event_id_of(
        create(
            client,
            space,
            title="Vide-grenier",
            start_date="2027-05-01",
            end_date="2027-05-02",
            all_day="y",
            start_time="",
            end_time="",
            repeat="monthly_date",
            ends="until",
            until="2027-08-01",
        )
    )
    text = feed_for(client, space).data.decode()
    assert re.search(r"RRULE:.*UNTIL=20270801(;|\r)", text)  # a DATE, like DTSTART
    form = client.get(f"/s/{space.slug}/agenda/{event_id}/occurrence?at=20270531T220000Z").get_data(as_text=True)
    assert 'id="end_date"' in form and 'value="2027-06-02"' in form  # the last day, not the day after
    month = client.get(f"/s/{space.slug}/agenda/?view=month&month=2027-06").get_data(as_text=True)
    assert month.count("Vide-grenier") == 4  # 1–2 June, and 1–2 July in the grid's last week


def test_renaming_a_space_changes_the_all_spaces_feed_version(app, agenda, db):
    client, space, _user = agenda
    create(client, space)
    assert post(client, "/agenda/subscribe").status_code == 302
    address = re.search(r"http://localhost(/ical/[\w-]+\.ics)", client.get("/agenda/").get_data(as_text=True)).group(1)
    phone = app.test_client()
    etag = phone.get(address).headers["ETag"]
    db.session.get(Space, space.id).name = "Nouveau nom"
    db.session.commit()
    response = phone.get(address, headers={"If-None-Match": etag})
    assert response.status_code == 200 and b"[Nouveau nom]" in response.data


def test_a_date_at_a_time_skipped_by_the_spring_change_can_be_cancelled(agenda, db):
    """02:30 does not exist in Paris on 28 March 2027: the occurrence is shown at 03:30 and stays reachable."""
    client, space, _user = agenda
    event_id = event_id_of(
        create(
            client,
            space,
            title="Veille",
            start_date="2027-03-21",
            end_date="2027-03-21",
            start_time="02:30",
            end_time="03:00",
            repeat="weekly",
            ends="count",
            count="3",
        )
    )
    page = client.get(f"/s/{space.slug}/agenda/{event_id}/").get_data(as_text=True)
    keys = re.findall(r'name="at" value="(\w+)"', page)
    assert len(keys) == 3
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/cancel", {"at": keys[1]}).status_code == 302
    assert (
        len(
            re.findall(
                r'name="at" value="(\w+)"', client.get(f"/s/{space.slug}/agenda/{event_id}/").get_data(as_text=True)
            )
        )
        == 2
    )


def test_subscribers_asking_at_once_for_a_changed_feed_get_it_built_once():
    """After a change every subscribed phone asks again: one thread builds, the others wait for it."""
    import threading
    import time

    from agora.agenda.views import FeedCache

    cache = FeedCache(limit=1024 * 1024)
    builds, release = [], threading.Event()

    def build():
        builds.append(threading.current_thread().name)
        release.wait(5)
        return b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"

    bodies = []
    phones = [threading.Thread(target=lambda: bodies.append(cache.get_or_build("v1", build))) for _ in range(4)]
    for phone in phones:
        phone.start()
    time.sleep(0.2)  # every phone has asked by now
    release.set()
    for phone in phones:
        phone.join(5)
    assert len(builds) == 1
    assert bodies == [b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"] * 4
    assert not cache.building  # nothing left behind for the next version
    assert cache.get_or_build("v2", lambda: b"v2") == b"v2"
