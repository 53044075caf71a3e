"""Hostile or odd input gets a 4xx and changes nothing; it never reaches the database as a 500."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import select

from agora.auth.models import User, UserToken
from agora.core import mail
from agora.core.mail import OutboxMessage
from agora.forum.models import Post
from tests.conftest import deliver_notifications, login, post


def test_newlines_in_names_and_titles_cannot_reach_mail_headers(app, db, member_client, make_user, make_member):
    client, space, _admin = member_client("admin")
    alice = make_user("alice", email="alice@example.org")
    make_member(space, alice, "member")
    response = post(
        client,
        "/profile",
        {"display_name": "Bob\r\nBcc: x@evil.example", "email": "", "language": "fr", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 302
    assert (
        db.session.scalar(select(User.display_name).where(User.display_name.like("Bob%"))) == "Bob Bcc: x@evil.example"
    )
    post(client, f"/s/{space.slug}/forum/new", {"title": "Ligne 1\nLigne 2", "body": "Salut @alice", "category": "0"})
    deliver_notifications()
    subject = db.session.scalar(select(OutboxMessage.subject))
    assert "\n" not in subject and "\r" not in subject


def test_a_message_that_cannot_be_built_is_given_up_alone(app, db):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1)
    try:
        db.session.add(OutboxMessage(recipient="a@example.org", subject="ok\nBcc: x@evil.example", body="x"))
        db.session.commit()
        report = mail.send_pending()
    finally:
        app.config.update(SMTP_HOST="", SMTP_PORT=25)
    assert report.failed == 1
    assert db.session.scalar(select(OutboxMessage.status)) == "failed"


def test_long_titles_fit_the_mail_subject(app, db, member_client, make_user, make_member):
    client, space, _admin = member_client("admin")
    follower = make_user("suiveuse", email="suiveuse@example.org")
    make_member(space, follower, "member")
    other = app.test_client()
    login(other, "suiveuse")
    response = post(other, f"/s/{space.slug}/forum/new", {"title": "é" * 200, "body": "Premier", "category": "0"})
    reply = post(client, response.location + "reply", {"body": "Réponse"})
    assert reply.status_code == 302
    deliver_notifications()
    assert len(db.session.scalar(select(OutboxMessage.subject))) <= 200


def test_a_password_change_kills_outstanding_setup_and_reset_links(app, db, make_user):
    from agora.auth import services

    user = make_user("prudente", email="prudente@example.org")
    with app.test_request_context():
        raw = services.issue_token(db.session.get(User, user.id), "setup")
        db.session.commit()
    client = app.test_client()
    login(client, "prudente")
    new = "une toute nouvelle phrase"
    from tests.conftest import PASSWORD

    assert (
        post(client, "/profile/password", {"pw-current": PASSWORD, "pw-password": new, "pw-confirm": new}).status_code
        == 302
    )
    assert app.test_client().get(f"/setup/{raw}").status_code == 404
    assert db.session.scalar(select(UserToken.used_at)) is not None


def test_guessing_the_current_password_is_throttled(member_client, db):
    client, _space, _user = member_client("member")
    data = {"pw-current": "pas le bon du tout", "pw-password": "nouvelle phrase ok", "pw-confirm": "nouvelle phrase ok"}
    statuses = [post(client, "/profile/password", data).status_code for _ in range(6)]
    assert statuses[:5] == [400] * 5 and statuses[5] == 429


def test_reset_mail_is_not_sent_again_within_five_minutes(client, make_user, db):
    make_user("presse", email="presse@example.org")
    from agora.auth.services import send_reset_mails

    for _ in range(3):
        assert post(client, "/password/forgot", {"email": "presse@example.org"}).status_code == 200
        send_reset_mails()  # what the background sender does between requests
        db.session.commit()
    assert len(db.session.scalars(select(OutboxMessage)).all()) == 1


def test_odd_numbers_and_bytes_in_urls_give_4xx(member_client, db):
    client, space, _user = member_client("admin")
    base = f"/s/{space.slug}"
    for url in (
        f"{base}/?page=²",
        f"{base}/?page=-1",
        f"{base}/?page=abc",
        "/admin/audit/?page=²",
        f"{base}/forum/99999999999999999999/",
        f"{base}/forum/2147483648/",
        f"{base}/forum/?category=99999999999999999999",
        f"{base}/forum/?category=abc",
    ):
        response = client.get(url)
        assert response.status_code in (200, 403, 404), (url, response.status_code)
    assert client.get(f"{base}/?page=2&_method=POST&slug=autre").status_code == 200
    response = post(client, f"{base}/forum/new", {"title": "T", "body": "B", "category": "9" * 25})
    assert response.status_code == 400
    assert post(client, f"{base}/forum/new", {"title": "T", "body": "nul\x00byte", "category": "0"}).status_code == 400
    assert client.get("/login?next=/\x00").status_code == 400
    assert db.session.scalar(select(Post)) is None


def test_admin_account_search_treats_wildcards_as_text(app, make_user):
    make_user("hote", is_site_admin=True)
    make_user("sans.tiret")
    client = app.test_client()
    login(client, "hote")
    page = client.get("/admin/users/?q=_").get_data(as_text=True)
    assert "sans.tiret" not in page


def test_losing_the_race_for_the_last_invitation_use_gives_410_with_the_message(app, db, member_client, monkeypatch):
    """Two people open the last use of an invitation; the second one to submit is told, not shown a 500."""
    from agora.spaces.models import Invitation

    client, space, _admin = member_client("admin")
    response = post(
        client,
        f"/s/{space.slug}/members/manage/invitations/",
        {"inv-role": "member", "inv-max_uses": "1", "inv-days": "3"},
    )
    import re

    link = re.search(r"http://localhost(/join/[\w-]+)", client.get(response.location).get_data(as_text=True)).group(1)
    invitation = db.session.scalar(select(Invitation))
    invitation.uses = 1  # somebody else just took the last use
    db.session.commit()
    monkeypatch.setattr(Invitation, "is_usable", lambda self, now=None: True)  # as seen before that
    from tests.conftest import PASSWORD

    response = post(
        app.test_client(),
        link,
        {"username": "tardive", "display_name": "Tardive", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 410
    assert "plus valable" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "tardive")) is None


# Second review: agenda, directory and import -------------------------------------------------


def test_importing_a_file_cannot_overwrite_someone_elses_event(
    app, db, member_client, make_user, make_member, dates_as_of
):
    from agora.agenda.models import Event
    from tests.test_agenda import confirm_ics, create, feed_for, upload_ics

    admin_client, space, _admin = member_client("admin")
    create(admin_client, space, title="Plénière")
    member = make_user("bob")
    make_member(space, member, "member")
    bob = app.test_client()
    login(bob, "bob")
    stolen = feed_for(admin_client, space).data.decode().replace("SUMMARY:Plénière", "SUMMARY:Annulé")
    response = upload_ics(bob, space, stolen)
    assert response.status_code == 403 and "que vous ne pouvez pas modifier" in response.get_data(as_text=True)
    assert db.session.scalar(select(Event.title)) == "Plénière"
    assert confirm_ics(admin_client, space, upload_ics(admin_client, space, stolen)).status_code == 302
    assert db.session.scalar(select(Event.title)) == "Annulé"  # its author may


def test_the_organisation_filter_respects_who_sees_the_organisation(app, db, member_client, make_user, make_member):
    from agora.members.models import Organisation
    from agora.spaces.models import Membership

    client, space, _me = member_client("member")
    secret = make_user("discret", display_name="Personne Discrète")
    membership = make_member(space, secret, "member")
    org = Organisation(space_id=space.id, name="Régie")
    db.session.add(org)
    db.session.flush()
    db.session.get(Membership, membership.id).organisation_id = org.id
    db.session.get(User, secret.id).privacy = {"organisation": "nobody"}
    db.session.commit()
    assert "Personne Discrète" not in client.get(f"/s/{space.slug}/members/?organisation={org.id}").get_data(
        as_text=True
    )
    assert "Personne Discrète" in client.get(f"/s/{space.slug}/members/").get_data(as_text=True)


def test_member_import_matches_only_people_who_already_share_a_space(
    app, db, member_client, make_space, make_user, make_member
):
    client, space, _admin = member_client("admin")
    elsewhere = make_space()
    carol = make_user("carol", email="carol@example.org", display_name="Carol Secret")
    make_member(elsewhere, carol, "member")
    import io

    preview = post(
        client,
        f"/s/{space.slug}/members/import",
        {"file": (io.BytesIO(b"display_name,email\nC,carol@example.org\n"), "p.csv")},
        content_type="multipart/form-data",
    )
    page = preview.get_data(as_text=True)
    assert "Carol Secret" not in page and "envoyer une invitation par e-mail" in page


def test_member_import_with_old_mac_line_endings_or_broken_quotes(member_client, db):
    import io

    client, space, _admin = member_client("admin")
    for data in (b"display_name\rAlice\rBob\r", b'display_name\n"' + b"x" * 200_000 + b"\n"):
        response = post(
            client,
            f"/s/{space.slug}/members/import",
            {"file": (io.BytesIO(data), "p.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code in (200, 400, 413), response.status_code


def test_switching_the_agenda_off_stops_its_feeds(app, db, member_client):
    from agora.spaces.models import Space
    from tests.test_agenda import create, make_token

    client, space, _user = member_client("member")
    create(client, space, title="Réunion privée")
    address = make_token(client, space)
    db.session.get(Space, space.id).modules = ["forum"]
    db.session.commit()
    assert app.test_client().get(address).status_code == 404
    assert "Réunion privée" not in client.get("/agenda/?from=2026-12-01").get_data(as_text=True)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MINUTELY",
        "FREQ=DAILY;COUNT=3000000",
        "FREQ=DAILY;UNTIL=99991231T000000Z",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    ],
)
def test_imported_repeats_that_are_too_dense_long_or_impossible_are_refused(member_client, db, rule):
    from agora.agenda.models import Event
    from tests.test_agenda import GOOGLE_EXPORT, confirm_ics, upload_ics

    client, space, _user = member_client("member")
    response = upload_ics(client, space, GOOGLE_EXPORT.replace("RRULE:FREQ=WEEKLY;COUNT=4", f"RRULE:{rule}"))
    assert "« Atelier couture » (16 mars 2027 14:00) : " in response.get_data(as_text=True)
    assert db.session.scalar(select(Event)) is None
    confirm_ics(client, space, response)  # the readable rest is imported, the series is not
    assert db.session.scalar(select(Event.uid).where(Event.title == "Atelier couture")) is None


def test_far_dates_are_refused_not_crashing(member_client, db):
    from tests.test_agenda import GOOGLE_EXPORT, create, upload_ics

    client, space, _user = member_client("member")
    for url in (
        "/agenda/?from=9999-12-31",
        "/agenda/?from=0001-01-01",
        "/agenda/?view=month&month=9999-12",
        "/agenda/?view=week&date=9999-12-31",
    ):
        assert client.get(f"/s/{space.slug}{url}").status_code == 400, url
    assert client.get("/agenda/?from=9999-12-01").status_code == 400
    assert create(client, space, all_day="y", start_time="", end_time="", end_date="9999-12-31").status_code == 400
    assert (
        create(client, space, repeat="daily", ends="until", until="9999-12-31", tz="America/Cayenne").status_code == 400
    )
    far = upload_ics(
        client,
        space,
        GOOGLE_EXPORT.replace("DTSTART;VALUE=DATE:20270522", "DTSTART;VALUE=DATE:99991231").replace(
            "DTEND;VALUE=DATE:20270523", "DTEND;VALUE=DATE:99991231"
        ),
    )
    assert (
        "« Brocante du quartier » (31 décembre 9999) : sa date est en dehors des années 1900 à 2200."
        in far.get_data(as_text=True).replace("&#39;", "'")
    )


#: A right-to-left override makes "Conseil ‮evitceffe‬" read "Conseil effective"; isolates, marks
#: and embeddings hide or reorder text the same way.
BIDI = "Conseil \u202eevitceffe\u202c \u2067\u200fok\u061c\u2069\u202a\u202b\u202d\u200e\u2066\u2068"
BIDI_CLEAN = "Conseil evitceffe ok"
BIDI_CHARS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _bidi_cases(slug):
    """(url, form, table, column, page): each form that takes a one-line title or name."""
    from tests.test_agenda import event_form

    s = f"/s/{slug}"
    return [
        (f"{s}/forum/new", {"title": BIDI, "body": "Texte", "category": "0"}, "forum_topics", "title", f"{s}/forum/"),
        (
            f"{s}/forum/categories/",
            {"name": BIDI, "colour": "#2255aa", "position": "1"},
            "forum_categories",
            "name",
            f"{s}/forum/categories/",
        ),
        (f"{s}/news/new", {"title": BIDI, "body": "x"}, "news_items", "title", f"{s}/"),
        (f"{s}/agenda/new", event_form(title=BIDI, location=BIDI), "events", "title", f"{s}/agenda/?from=2026-12-01"),
        (
            f"{s}/agenda/categories/",
            {"name": BIDI, "colour": "#2255aa"},
            "event_categories",
            "name",
            f"{s}/agenda/categories/",
        ),
        (f"{s}/agenda/resources/", {"name": BIDI, "description": ""}, "resources", "name", f"{s}/agenda/resources/"),
        (f"{s}/tasks/new", {"title": BIDI, "priority": "normal", "progress": "0"}, "tasks", "title", f"{s}/tasks/"),
        (f"{s}/tasks/lists/", {"name": BIDI, "description": ""}, "task_lists", "name", f"{s}/tasks/lists/"),
        (f"{s}/tasks/statuses/", {"name": BIDI[:60]}, "task_statuses", "name", f"{s}/tasks/statuses/"),
        (
            f"{s}/polls/new",
            {"question": BIDI, "kind": "single", "options-0-text": BIDI, "options-1-text": "Non"},
            "polls",
            "question",
            f"{s}/polls/",
        ),
        (f"{s}/documents/new-folder", {"new-name": BIDI}, "folders", "name", f"{s}/documents/"),
        (f"{s}/members/organisations/", {"name": BIDI}, "organisations", "name", f"{s}/members/organisations/"),
        (f"{s}/members/me", {"organisation": "0", "function": BIDI}, "memberships", "function", f"{s}/members/"),
        (
            f"{s}/settings/",
            {
                "name": BIDI,
                "description": "",
                "colour": "#0b5cad",
                "modules": ["forum", "agenda", "documents", "tasks", "polls"],
            },
            "spaces",
            "name",
            f"{s}/",
        ),
        (
            "/profile",
            {"display_name": BIDI, "email": "", "language": "fr", "timezone": "Europe/Paris"},
            "users",
            "display_name",
            f"{s}/members/",
        ),
    ]


@pytest.mark.parametrize("case", range(15))
def test_bidi_formatting_characters_are_dropped_from_titles_and_names(app, db, member_client, case):
    from sqlalchemy import text

    client, space, _user = member_client("admin")
    url, form, table, column, page_url = _bidi_cases(space.slug)[case]
    if "/tasks/new" in url:
        assert post(client, f"/s/{space.slug}/tasks/lists/", {"name": "Fête"}).status_code == 302
        form["task_list"] = str(db.session.execute(text("SELECT id FROM task_lists")).scalar())
    response = post(client, url, form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    stored = db.session.execute(text(f"SELECT {column} FROM {table}")).scalars().all()
    assert BIDI_CLEAN in stored, stored
    page = client.get(page_url).get_data(as_text=True)
    assert BIDI_CLEAN in page and not set(BIDI_CHARS) & set(page)


def test_one_line_keeps_the_joiners_words_need_and_drops_other_invisible_marks():
    from agora.core.services import one_line

    assert one_line("Famille 👨\u200d👩\u200d👧") == "Famille 👨\u200d👩\u200d👧"  # the emoji stays one glyph
    assert one_line("می\u200cخواهم") == "می\u200cخواهم"  # Persian needs the zero-width non-joiner
    assert one_line("Cafe\u0301\u200b\ufeff\u00ad du\u0085coin\u2029") == "Café du coin"


EDGE_DAYS = ("0001-01-01", "9999-12-31")
EDGE_ZONES = ("Pacific/Honolulu", "Pacific/Kiritimati")  # UTC-10 and UTC+14


def _edge_requests(slug, day):
    """(method, url, form) for every page that reads a date from its address or a form."""
    from tests.test_agenda import event_form
    from tests.test_polls import choice_form

    s = f"/s/{slug}"
    dates_poll = {
        "question": "Quel soir ?",
        "slot_minutes": "120",
        "slots-0-day": day,
        "slots-0-time": "18:00",
        "slots-1-day": "2027-01-12",
        "slots-1-time": "18:00",
    }
    return [
        ("get", f"{s}/tasks/timeline?from={day}", None),
        ("get", f"{s}/tasks/?due_before={day}", None),
        ("get", f"{s}/agenda/?from={day}", None),
        ("get", f"{s}/agenda/?view=week&date={day}", None),
        ("get", f"{s}/agenda/?view=month&month={day[:7]}", None),
        ("get", f"/agenda/?from={day}", None),
        ("post", f"{s}/polls/new", choice_form(closes_on=day, closes_time="23:59")),
        ("post", f"{s}/polls/new", choice_form(opens_on=day, opens_time="00:00")),
        ("post", f"{s}/polls/new-date", dates_poll),
        ("post", f"{s}/tasks/new", {"title": "Affiches", "priority": "normal", "progress": "0", "due_on": day}),
        ("post", f"{s}/tasks/new", {"title": "Affiches", "priority": "normal", "progress": "0", "start_on": day}),
        ("post", f"{s}/agenda/new", event_form(start_date=day, end_date=day)),
        ("post", f"{s}/agenda/new", event_form(repeat="daily", ends="until", until=day)),
    ]


@pytest.mark.parametrize("zone", EDGE_ZONES)
@pytest.mark.parametrize("day", EDGE_DAYS)
def test_calendar_edge_dates_get_a_message_never_a_500(app, db, member_client, zone, day):
    from agora.auth.models import User
    from agora.polls.models import Poll
    from agora.tasks.models import Task

    client, space, user = member_client("admin")
    db.session.get(User, user.id).timezone = zone
    db.session.commit()
    assert post(client, f"/s/{space.slug}/tasks/lists/", {"name": "Fête"}).status_code == 302
    for method, url, form in _edge_requests(space.slug, day):
        if form and "/tasks/new" in url:
            form["task_list"] = str(
                db.session.scalar(select(__import__("agora.tasks.models", fromlist=["TaskList"]).TaskList.id))
            )
        response = client.get(url) if method == "get" else post(client, url, form)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, (url, response.status_code)
        assert "Choisissez une date entre 1900 et 2200." in page, url
    assert db.session.scalar(select(Poll)) is None and db.session.scalar(select(Task)) is None


@pytest.mark.parametrize("zone", EDGE_ZONES)
def test_dates_stored_at_the_calendar_edges_still_show(app, db, member_client, zone):
    """Rows written before dates were bounded (or by a script) are shown, in UTC when the zone cannot hold them."""
    from datetime import date, datetime

    from agora.auth.models import User
    from agora.polls.models import Poll, PollOption
    from agora.tasks.models import Task, TaskList, TaskStatus

    client, space, user = member_client("admin")
    db.session.get(User, user.id).timezone = zone
    far, early = datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime(1, 1, 1, 0, 0, tzinfo=UTC)
    poll = Poll(
        space_id=space.id, kind="dates", question="Très loin", opens_at=early, closes_at=far, created_by_id=user.id
    )
    db.session.add(poll)
    db.session.flush()
    db.session.add_all(
        [
            PollOption(space_id=space.id, poll_id=poll.id, position=0, label="", starts_at=far),
            PollOption(space_id=space.id, poll_id=poll.id, position=1, label="", starts_at=early),
        ]
    )
    task_list = TaskList(space_id=space.id, name="Fête")
    db.session.add(task_list)
    db.session.flush()
    status = TaskStatus(space_id=space.id, name="À faire")
    db.session.add(status)
    db.session.flush()
    db.session.add(
        Task(
            space_id=space.id,
            list_id=task_list.id,
            status_id=status.id,
            title="Un jour",
            start_on=date(1, 1, 1),
            due_on=date(9999, 12, 31),
        )
    )
    db.session.commit()
    for url in (
        f"/s/{space.slug}/polls/",
        f"/s/{space.slug}/polls/{poll.id}",
        f"/s/{space.slug}/polls/{poll.id}/edit",
        f"/s/{space.slug}/",
        f"/s/{space.slug}/tasks/",
        f"/s/{space.slug}/tasks/timeline",
        f"/s/{space.slug}/tasks/board",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "9999" in client.get(f"/s/{space.slug}/polls/{poll.id}").get_data(as_text=True)


def test_titles_and_names_written_before_are_cleaned_by_the_migration(tmp_path):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from agora.extensions import db as _db
    from tests.conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0009")
        with _db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, username_key, display_name, is_site_admin, is_disabled,"
                    " session_version, created_at, presentation, privacy) VALUES (1, 'ancien', 'ancien', :n, 0, 0, 1,"
                    " '2026-01-01', '', '{}')"
                ),
                {"n": "Ali\u202ece\u202c \u2066B.\u2069"},
            )
            conn.execute(
                text(
                    "INSERT INTO spaces (id, slug, name, description, colour, modules, quota_mb, storage_used,"
                    " created_at) VALUES (1, 'vieux', :n, '', '#000000', '[]', 10, 0, '2026-01-01')"
                ),
                {"n": BIDI},
            )
            conn.execute(
                text(
                    "INSERT INTO task_statuses (id, space_id, name, position) VALUES (1, 1, 'Fait', 0), (2, 1, :n, 1)"
                ),
                {"n": "Fa\u202eit"},
            )
        upgrade(directory=directory)
        with _db.engine.connect() as conn:
            assert conn.execute(text("SELECT display_name FROM users")).scalar() == "Alice B."
            assert conn.execute(text("SELECT name FROM spaces")).scalar() == BIDI_CLEAN
            # Cleaned, it would be a second "Fait" in the same space: it is left for an admin to rename.
            assert conn.execute(text("SELECT name FROM task_statuses ORDER BY id")).scalars().all() == [
                "Fait",
                "Fa\u202eit",
            ]
        _db.engine.dispose()
