"""Hostile or odd input gets a 4xx and changes nothing; it never reaches the database as a 500."""
from __future__ import annotations

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
    response = post(client, "/profile", {"display_name": "Bob\r\nBcc: x@evil.example", "email": "", "language": "fr",
                                        "timezone": "Europe/Paris"})
    assert response.status_code == 302
    assert db.session.scalar(select(User.display_name).where(User.display_name.like("Bob%"))) == "Bob Bcc: x@evil.example"
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

    assert post(client, "/profile/password", {"pw-current": PASSWORD, "pw-password": new, "pw-confirm": new}).status_code == 302
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
    for url in (f"{base}/?page=²", f"{base}/?page=-1", f"{base}/?page=abc", "/admin/audit/?page=²",
                f"{base}/forum/99999999999999999999/", f"{base}/forum/2147483648/",
                f"{base}/forum/?category=99999999999999999999", f"{base}/forum/?category=abc"):
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
    response = post(client, f"/s/{space.slug}/members/manage/invitations/",
                    {"inv-role": "member", "inv-max_uses": "1", "inv-days": "3"})
    import re

    link = re.search(r"http://localhost(/join/[\w-]+)", client.get(response.location).get_data(as_text=True)).group(1)
    invitation = db.session.scalar(select(Invitation))
    invitation.uses = 1  # somebody else just took the last use
    db.session.commit()
    monkeypatch.setattr(Invitation, "is_usable", lambda self, now=None: True)  # as seen before that
    from tests.conftest import PASSWORD

    response = post(app.test_client(), link, {"username": "tardive", "display_name": "Tardive",
                                               "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 410
    assert "plus valable" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "tardive")) is None


# Second review: agenda, directory and import -------------------------------------------------


def test_importing_a_file_cannot_overwrite_someone_elses_event(app, db, member_client, make_user, make_member):
    from tests.test_agenda import confirm_ics, create, feed_for, upload_ics
    from agora.agenda.models import Event

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
    assert "Personne Discrète" not in client.get(f"/s/{space.slug}/members/?organisation={org.id}").get_data(as_text=True)
    assert "Personne Discrète" in client.get(f"/s/{space.slug}/members/").get_data(as_text=True)


def test_member_import_matches_only_people_who_already_share_a_space(app, db, member_client, make_space, make_user, make_member):
    client, space, _admin = member_client("admin")
    elsewhere = make_space()
    carol = make_user("carol", email="carol@example.org", display_name="Carol Secret")
    make_member(elsewhere, carol, "member")
    import io

    preview = post(client, f"/s/{space.slug}/members/import",
                   {"file": (io.BytesIO(b"display_name,email\nC,carol@example.org\n"), "p.csv")},
                   content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert "Carol Secret" not in page and "créer le compte" in page


def test_member_import_with_old_mac_line_endings_or_broken_quotes(member_client, db):
    import io

    client, space, _admin = member_client("admin")
    for data in (b"display_name\rAlice\rBob\r", b'display_name\n"' + b"x" * 200_000 + b"\n"):
        response = post(client, f"/s/{space.slug}/members/import", {"file": (io.BytesIO(data), "p.csv")},
                        content_type="multipart/form-data")
        assert response.status_code in (200, 400, 413), response.status_code


def test_switching_the_agenda_off_stops_its_feeds(app, db, member_client):
    from tests.test_agenda import create, make_token
    from agora.spaces.models import Space

    client, space, _user = member_client("member")
    create(client, space, title="Réunion privée")
    address = make_token(client, space)
    db.session.get(Space, space.id).modules = ["forum"]
    db.session.commit()
    assert app.test_client().get(address).status_code == 404
    assert "Réunion privée" not in client.get("/agenda/?from=2026-12-01").get_data(as_text=True)


@pytest.mark.parametrize("rule", ["FREQ=MINUTELY", "FREQ=DAILY;COUNT=3000000", "FREQ=DAILY;UNTIL=99991231T000000Z",
                                  "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"])
def test_imported_repeats_that_are_too_dense_long_or_impossible_are_refused(member_client, db, rule):
    from tests.test_agenda import GOOGLE_EXPORT, upload_ics
    from agora.agenda.models import Event

    client, space, _user = member_client("member")
    response = upload_ics(client, space, GOOGLE_EXPORT.replace("RRULE:FREQ=WEEKLY;COUNT=4", f"RRULE:{rule}"))
    assert response.status_code == 400
    assert db.session.scalar(select(Event)) is None


def test_far_dates_are_refused_not_crashing(member_client, db):
    from tests.test_agenda import GOOGLE_EXPORT, create, upload_ics

    client, space, _user = member_client("member")
    for url in ("/agenda/?from=9999-12-31", "/agenda/?from=0001-01-01", "/agenda/?view=month&month=9999-12",
                "/agenda/?view=week&date=9999-12-31"):
        assert client.get(f"/s/{space.slug}{url}").status_code == 400, url
    assert client.get("/agenda/?from=9999-12-01").status_code == 400
    assert create(client, space, all_day="y", start_time="", end_time="", end_date="9999-12-31").status_code == 400
    assert create(client, space, repeat="daily", ends="until", until="9999-12-31", tz="America/Cayenne").status_code == 400
    assert upload_ics(client, space, GOOGLE_EXPORT.replace("DTSTART;VALUE=DATE:20270522", "DTSTART;VALUE=DATE:99991231")
                      .replace("DTEND;VALUE=DATE:20270523", "DTEND;VALUE=DATE:99991231")).status_code == 400
