"""Importing .ics files: what calendar apps export is read right, and only by those with the rights."""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from agora.agenda import services
from agora.agenda.models import Event
from agora.core.time import utcnow
from agora.spaces.models import Space
from tests.test_agenda import confirm_ics, create, event_id_of, upload_ics

#: Their events have fixed dates (summer-time changes, feeds of given weeks): seen from a fixed day.
pytestmark = pytest.mark.usefixtures("dates_as_of")

PARIS = ZoneInfo("Europe/Paris")


def cal(*events: str, head: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\nDTSTAMP:20270101T000000Z\n{e.strip()}\nEND:VEVENT\n" for e in events)
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Quartier//Test//FR\n{head.strip()}\n{body}END:VCALENDAR\n"
    return "\r\n".join(line for line in text.splitlines() if line) + "\r\n"


def shown(db, space, start="2027-01-01", end="2027-07-01") -> list[tuple[str, str]]:
    """What the agenda shows between those days: (title, Paris time) in order."""
    space_id = db.session.scalar(select(Space.id).where(Space.slug == space.slug))
    window = [datetime.fromisoformat(d).replace(tzinfo=PARIS) for d in (start, end)]
    return [
        (o.event.title, o.start.astimezone(PARIS).strftime("%m-%d %H:%M"))
        for o in services.occurrences([space_id], *window)
    ]


def imported(client, space, text: str):
    preview = upload_ics(client, space, text)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    assert confirm_ics(client, space, preview).status_code == 302
    return preview.get_data(as_text=True)


def page(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"').replace("&quot;", '"')


def rows(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Event))


@pytest.fixture
def agenda(member_client):
    return member_client("member")


SERIES = """UID:atelier@quartier.example
DTSTART;TZID=Europe/Paris:20270302T180000
DTEND;TZID=Europe/Paris:20270302T200000
RRULE:FREQ=WEEKLY;COUNT=6
SUMMARY:Atelier"""


# Issue 20 -----------------------------------------------------------------------------------


def test_rdate_dates_are_imported_with_the_first_one(agenda, db):
    client, space, _user = agenda
    imported(
        client,
        space,
        cal("""UID:conseil@quartier.example
DTSTART;TZID=Europe/Paris:20270105T180000
DTEND;TZID=Europe/Paris:20270105T200000
RDATE;TZID=Europe/Paris:20270120T180000,20270203T180000
SUMMARY:Conseil citoyen"""),
    )
    assert shown(db, space) == [
        ("Conseil citoyen", "01-05 18:00"),
        ("Conseil citoyen", "01-20 18:00"),
        ("Conseil citoyen", "02-03 18:00"),
    ]
    # The space's feed gives calendar apps the same three dates.
    import icalendar
    import recurring_ical_events

    feed = icalendar.Calendar.from_ical(client.get(f"/s/{space.slug}/agenda.ics").data)
    starts = [
        o.decoded("DTSTART").astimezone(PARIS).strftime("%m-%d %H:%M")
        for o in recurring_ical_events.of(feed).between(datetime(2027, 1, 1), datetime(2027, 7, 1))
    ]
    assert sorted(starts) == ["01-05 18:00", "01-20 18:00", "02-03 18:00"]


def test_a_cancelled_date_disappears_from_its_series(agenda, db):
    client, space, _user = agenda
    imported(
        client,
        space,
        cal(
            SERIES,
            """UID:atelier@quartier.example
RECURRENCE-ID;TZID=Europe/Paris:20270309T180000
DTSTART;TZID=Europe/Paris:20270309T180000
DTEND;TZID=Europe/Paris:20270309T200000
STATUS:CANCELLED
SUMMARY:Atelier""",
        ),
    )
    dates = [d for _t, d in shown(db, space)]
    assert "03-09 18:00" not in dates and dates[:2] == ["03-02 18:00", "03-16 18:00"] and len(dates) == 5


OLD = """UID:reunion@quartier.example
SEQUENCE:1
DTSTART;TZID=Europe/Paris:20270204T180000
DTEND;TZID=Europe/Paris:20270204T190000
SUMMARY:Réunion"""
NEW = """UID:reunion@quartier.example
SEQUENCE:2
DTSTART;TZID=Europe/Paris:20270204T190000
DTEND;TZID=Europe/Paris:20270204T200000
SUMMARY:Réunion (nouvel horaire)"""


@pytest.mark.parametrize("order", [(NEW, OLD), (OLD, NEW)])
def test_two_versions_of_one_event_keep_the_newest_on_every_import(agenda, db, order):
    client, space, _user = agenda
    preview = imported(client, space, cal(*order))
    assert "ajouter 1 événement," in preview and "version plus récente" in preview
    assert shown(db, space) == [("Réunion (nouvel horaire)", "02-04 19:00")]
    again = upload_ics(client, space, cal(*reversed(order)))
    assert "ajouter 0 événement, en mettre à jour 0 ; 1 est déjà à jour" in page(again)
    confirm_ics(client, space, again)
    assert shown(db, space) == [("Réunion (nouvel horaire)", "02-04 19:00")] and rows(db) == 1


def test_the_same_changed_date_twice_is_imported_once(agenda, db):
    client, space, _user = agenda
    moved = """UID:atelier@quartier.example
RECURRENCE-ID;TZID=Europe/Paris:20270309T180000
DTSTART;TZID=Europe/Paris:20270310T180000
DTEND;TZID=Europe/Paris:20270310T200000
SUMMARY:Atelier (mercredi)"""
    imported(client, space, cal(SERIES, moved.replace("(mercredi)", "(mercredi !)\nSEQUENCE:1"), moved))
    assert rows(db) == 2
    assert ("Atelier (mercredi !)", "03-10 18:00") in shown(db, space)


def test_a_changed_date_without_its_series_is_listed_as_skipped_not_counted(agenda, db):
    client, space, _user = agenda
    text = cal(
        """UID:ailleurs@quartier.example
RECURRENCE-ID;TZID=Europe/Paris:20270309T180000
DTSTART;TZID=Europe/Paris:20270310T180000
DTEND;TZID=Europe/Paris:20270310T200000
SUMMARY:Permanence déplacée""",
        """UID:fete@quartier.example
DTSTART;VALUE=DATE:20270621
SUMMARY:Fête de la musique""",
    )
    preview = page(upload_ics(client, space, text))
    assert "ajouter 1 événement," in preview
    assert (
        "« Permanence déplacée » (10 mars 2027 18:00) : il change une date d'une série qui n'est ni dans le fichier"
        in preview
    )
    confirm_ics(client, space, upload_ics(client, space, text))
    assert rows(db) == 1 and shown(db, space) == [("Fête de la musique", "06-21 00:00")]


CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:{name}
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE"""


@pytest.mark.parametrize(
    "tzid, head",
    [
        ("Romance Standard Time", ""),  # Outlook
        ("/Europe/CUSTOM", CUSTOM_ZONE.format(name="/Europe/CUSTOM")),
    ],
)
def test_windows_and_custom_zones_keep_the_wall_clock_time_across_summer_time(agenda, db, tzid, head):
    client, space, _user = agenda
    imported(client, space, cal(SERIES.replace("TZID=Europe/Paris", f"TZID={tzid}"), head=head))
    assert shown(db, space)[3:5] == [("Atelier", "03-23 18:00"), ("Atelier", "03-30 18:00")]  # summer time from 03-28
    assert db.session.scalar(select(Event.tz)) == "Europe/Paris"


def fixed_zone(name: str, offset: str) -> str:
    return f"""BEGIN:VTIMEZONE
TZID:{name}
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:{offset}
TZOFFSETTO:{offset}
END:STANDARD
END:VTIMEZONE"""


def test_each_file_is_read_with_its_own_zones_whatever_was_imported_before(agenda, make_space, make_member, db):
    client, space, user = agenda
    other = make_space()
    make_member(other, user, "member")
    event = """UID:{uid}
DTSTART;TZID=Heure du quartier:20270510T120000
DTEND;TZID=Heure du quartier:20270510T130000
SUMMARY:Pique-nique"""
    imported(client, space, cal(event.format(uid="a@x"), head=CUSTOM_ZONE.format(name="Heure du quartier")))
    imported(client, other, cal(event.format(uid="b@x"), head=fixed_zone("Heure du quartier", "+0530")))
    starts = dict(db.session.execute(select(Event.uid, Event.starts_at)).all())
    assert starts["a@x"] == datetime(2027, 5, 10, 10, 0, tzinfo=UTC)
    assert starts["b@x"] == datetime(2027, 5, 10, 6, 30, tzinfo=UTC)  # its own +05:30, not the first file's


def test_an_outlook_all_day_date_moved_with_a_midnight_in_another_zone_shows_once(agenda, db):
    client, space, _user = agenda
    imported(
        client,
        space,
        cal(
            """UID:collecte@quartier.example
DTSTART;VALUE=DATE:20270104
DTEND;VALUE=DATE:20270105
RRULE:FREQ=WEEKLY;COUNT=3
SUMMARY:Collecte des encombrants""",
            """UID:collecte@quartier.example
RECURRENCE-ID;TZID=Eastern Standard Time:20270111T000000
DTSTART;VALUE=DATE:20270112
DTEND;VALUE=DATE:20270113
SUMMARY:Collecte des encombrants (mardi)""",
        ),
    )
    assert shown(db, space) == [
        ("Collecte des encombrants", "01-04 00:00"),
        ("Collecte des encombrants (mardi)", "01-12 00:00"),
        ("Collecte des encombrants", "01-18 00:00"),
    ]


def test_a_date_exdate_cancels_that_day_of_a_timed_series(agenda, db):
    client, space, _user = agenda
    imported(client, space, cal(SERIES + "\nEXDATE;VALUE=DATE:20270309"))
    assert "03-09 18:00" not in [d for _t, d in shown(db, space)] and len(shown(db, space)) == 5


def test_this_and_future_changes_the_following_dates(agenda, db):
    client, space, _user = agenda
    imported(
        client,
        space,
        cal(
            SERIES,
            """UID:atelier@quartier.example
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Paris:20270316T180000
DTSTART;TZID=Europe/Paris:20270316T190000
DTEND;TZID=Europe/Paris:20270316T210000
SUMMARY:Atelier (nouvel horaire)""",
        ),
    )
    assert shown(db, space) == [("Atelier", "03-02 18:00"), ("Atelier", "03-09 18:00")] + [
        ("Atelier (nouvel horaire)", f"{d} 19:00") for d in ("03-16", "03-23", "03-30", "04-06")
    ]
    again = upload_ics(
        client,
        space,
        cal(
            SERIES,
            """UID:atelier@quartier.example
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Paris:20270316T180000
DTSTART;TZID=Europe/Paris:20270316T190000
DTEND;TZID=Europe/Paris:20270316T210000
SUMMARY:Atelier (nouvel horaire)""",
        ),
    )
    assert "ajouter 0 événement, en mettre à jour 0" in page(again)


def test_zero_length_events_are_accepted_by_the_import_and_the_form(agenda, db):
    client, space, _user = agenda
    imported(
        client,
        space,
        cal(
            """UID:depot@quartier.example
DTSTART;TZID=Europe/Paris:20270215T120000
DTEND;TZID=Europe/Paris:20270215T120000
SUMMARY:Date limite des dossiers""",
            """UID:ferie@quartier.example
DTSTART;VALUE=DATE:20270501
DTEND;VALUE=DATE:20270501
SUMMARY:Fête du travail""",
        ),
    )
    assert shown(db, space) == [("Date limite des dossiers", "02-15 12:00"), ("Fête du travail", "05-01 00:00")]
    response = create(
        client,
        space,
        title="Clôture des votes",
        start_date="2027-03-01",
        start_time="12:00",
        end_date="2027-03-01",
        end_time="12:00",
    )
    assert response.status_code == 302
    event = db.session.get(Event, event_id_of(response))
    assert event.starts_at == event.ends_at == datetime(2027, 3, 1, 11, 0, tzinfo=UTC)


BROKEN = cal(
    """UID:inverse@quartier.example
DTSTART;TZID=Europe/Paris:20270410T180000
DTEND;TZID=Europe/Paris:20270410T170000
SUMMARY:Assemblée à l'envers""",
    """UID:illisible@quartier.example
DTSTART;VALUE=DATE:2027-99-99
SUMMARY:Date impossible""",
    """UID:liste@quartier.example
DTSTART;TZID=Europe/Paris:20270411T180000
DTEND;TZID=Europe/Paris:20270411T190000
RRULE:FREQ=WEEKLY;INTERVAL=0
SUMMARY:Répétition sans fin""",
    """UID:bon@quartier.example
DTSTART;TZID=Europe/Paris:20270412T180000
DTEND;TZID=Europe/Paris:20270412T190000
SUMMARY:Vide-grenier""",
)


def test_unreadable_events_are_listed_in_plain_french_and_the_rest_is_imported(agenda, db):
    client, space, _user = agenda
    preview = upload_ics(client, space, BROKEN)
    text = page(preview)
    assert preview.status_code == 200 and "ajouter 1 événement," in text
    assert "« Assemblée à l'envers » (10 avril 2027 18:00) : sa fin est avant son début." in text
    assert "« Date impossible » (date illisible) : sa date de début est illisible." in text
    assert "« Répétition sans fin » (11 avril 2027 18:00) : l'intervalle de la répétition doit aller de 1 à 99." in text
    for python_or_english in ("DTSTART", "DTEND", "('", "object", "is not", "Fichier CSV"):
        assert python_or_english not in text
    assert "Fichier d'agenda (.ics)" in page(client.get(f"/s/{space.slug}/agenda/import"))
    assert rows(db) == 0
    done = confirm_ics(client, space, preview)
    assert "3 événements du fichier n'ont pas été importés" in page(client.get(done.location))
    assert shown(db, space) == [("Vide-grenier", "04-12 18:00")]


def test_a_file_with_nothing_readable_is_refused_naming_the_event(agenda, db):
    client, space, _user = agenda
    response = upload_ics(
        client,
        space,
        cal("""UID:dense@quartier.example
DTSTART:21000101T100000Z
DTEND:21000101T110000Z
RRULE:FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,30
SUMMARY:Rappel"""),
    )
    assert response.status_code == 400
    assert "Aucun événement de ce fichier ne peut être importé : « Rappel » (1 janvier 2100" in page(response)
    assert "48 dates par jour" in page(response) and rows(db) == 0


# Issue 29: runaway recurrences -----------------------------------------------------------------


def test_an_interval_zero_series_is_refused_at_import(agenda, db):
    client, space, _user = agenda
    response = upload_ics(
        client,
        space,
        cal("""UID:boucle@quartier.example
DTSTART:21000101T100000Z
DTEND:21000101T110000Z
RRULE:FREQ=DAILY;INTERVAL=0
SUMMARY:Boucle"""),
    )
    assert response.status_code == 400
    assert "« Boucle »" in page(response) and "l'intervalle de la répétition doit aller de 1 à 99" in page(response)
    assert rows(db) == 0


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=" + ",".join(map(str, range(60))),
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=5",  # never happens: a walk to year 9999
        "FREQ=SECONDLY",
    ],
)
def test_stored_runaway_rules_expand_promptly_to_a_bounded_page(agenda, db, rule):
    client, space, user = agenda
    space_id = db.session.scalar(select(Space.id).where(Space.slug == space.slug))
    start = datetime(2100, 3, 1, 10, tzinfo=UTC)
    db.session.add(
        Event(
            space_id=space_id,
            uid="boucle@x",
            author_id=user.id,
            title="Boucle",
            tz="UTC",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            rrule=rule,
            exdates=[],
        )
    )
    db.session.commit()
    event_id = db.session.scalar(select(Event.id))
    answers = {}

    def fetch():
        for url in (
            "/agenda/?view=month&month=2100-03",
            "/agenda/?from=2100-03-01",
            "/agenda/?view=week&date=2100-03-02",
            f"/agenda/{event_id}/",
            f"/agenda/{event_id}/edit",
            "/agenda.ics",
            "/",
        ):
            answers[url] = client.get(f"/s/{space.slug}{url}")

    began = clock.monotonic()
    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "a page did not answer"
    assert clock.monotonic() - began < 10
    month = answers["/agenda/?view=month&month=2100-03"]
    assert month.status_code == 200 and page(month).count("Boucle") <= 40
    assert all(r.status_code == 200 for r in answers.values())


def test_calendar_apps_get_a_stored_runaway_rule_as_its_first_date_only(agenda, db):
    client, space, user = agenda
    space_id = db.session.scalar(select(Space.id).where(Space.slug == space.slug))
    start = (utcnow() + timedelta(days=7)).replace(microsecond=0)
    db.session.add(
        Event(
            space_id=space_id,
            uid="boucle@x",
            author_id=user.id,
            title="Boucle",
            tz="UTC",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            rrule="FREQ=DAILY;INTERVAL=0",
            exdates=[start.isoformat()],
        )
    )
    db.session.commit()
    feed = client.get(f"/s/{space.slug}/agenda.ics").get_data(as_text=True)
    event = feed.split("BEGIN:VEVENT", 1)[1]
    assert "SUMMARY:Boucle" in event and "RRULE" not in event and "EXDATE" not in event


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"repeat": "yearly", "ends": "count", "count": "1000"}, "plus de dix ans"),
        ({"repeat": "daily", "interval": "0"}, "Entre 1 et 99"),
    ],
)
def test_the_form_refuses_rules_the_agenda_cannot_hold(agenda, db, overrides, message):
    client, space, _user = agenda
    response = create(client, space, **overrides)
    assert response.status_code == 400 and message in page(response) and rows(db) == 0


# Issue 29: imports apply the forms' rights -----------------------------------------------------


OVERRIDE = """UID:{uid}
RECURRENCE-ID:20270316T170000Z
DTSTART:20270316T170000Z
DTEND:20270316T180000Z
SUMMARY:ANNULÉ – restez chez vous"""


@pytest.mark.parametrize("action", ["override", "cancel", "master"])
@pytest.mark.parametrize("role, allowed", [("author", True), ("admin", True), ("member", False), ("reader", False)])
def test_imports_change_a_series_only_for_those_who_may_edit_it(
    app, member_client, make_user, make_member, db, action, role, allowed
):
    alice_client, space, alice = member_client("member")
    event_id = event_id_of(
        create(
            alice_client,
            space,
            title="Atelier d'Alice",
            start_date="2027-03-02",
            end_date="2027-03-02",
            repeat="weekly",
            ends="count",
            count="4",
        )
    )
    uid = db.session.get(Event, event_id).uid
    if role == "author":
        client = alice_client
    else:
        client, _space, _user = member_client(role, space=space)
    text = {
        "override": cal(OVERRIDE.format(uid=uid)),
        "cancel": cal(OVERRIDE.format(uid=uid) + "\nSTATUS:CANCELLED"),
        "master": cal(f"""UID:{uid}
DTSTART;TZID=Europe/Paris:20270302T180000
DTEND;TZID=Europe/Paris:20270302T200000
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Atelier de Bob"""),
    }[action]
    response = upload_ics(client, space, text)
    if allowed:
        assert response.status_code == 200
        assert confirm_ics(client, space, response).status_code == 302
    else:
        assert response.status_code == 403
        assert "que vous ne pouvez pas modifier" in page(response) or role == "reader"
    db.session.expire_all()
    series = db.session.get(Event, event_id)
    changed = {
        "override": rows(db) == 2,
        "cancel": len(series.exdates) == 1,
        "master": series.title == "Atelier de Bob",
    }
    assert changed[action] is allowed
    if not allowed:
        assert rows(db) == 1 and series.exdates == [] and series.title == "Atelier d'Alice"


# Files from older calendar programs ------------------------------------------------------------


def test_a_second_repeat_rule_adds_its_dates_to_the_series(agenda, db):
    """RFC 2445 exports may carry two RRULEs: every date of both shows, once."""
    client, space, _user = agenda
    imported(
        client,
        space,
        cal("""UID:permanence@quartier.example
DTSTART;TZID=Europe/Paris:20270104T140000
DTEND;TZID=Europe/Paris:20270104T160000
RRULE:FREQ=WEEKLY;COUNT=3
RRULE:FREQ=MONTHLY;COUNT=2;BYMONTHDAY=20
SUMMARY:Permanence"""),
    )
    assert shown(db, space, end="2027-03-01") == [
        ("Permanence", "01-04 14:00"),
        ("Permanence", "01-11 14:00"),
        ("Permanence", "01-18 14:00"),
        ("Permanence", "01-20 14:00"),
        ("Permanence", "02-20 14:00"),
    ]


def test_an_endless_second_repeat_rule_is_refused_in_plain_french(agenda, db):
    client, space, _user = agenda
    response = upload_ics(
        client,
        space,
        cal("""UID:double@quartier.example
DTSTART;TZID=Europe/Paris:20270104T140000
DTEND;TZID=Europe/Paris:20270104T160000
RRULE:FREQ=WEEKLY;COUNT=3
RRULE:FREQ=MONTHLY
SUMMARY:Permanence"""),
    )
    assert response.status_code == 400
    assert "« Permanence » (4 janvier 2027 14:00) : il a plusieurs répétitions dont une sans fin." in page(response)
    assert rows(db) == 0
