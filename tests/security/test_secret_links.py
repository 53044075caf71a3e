"""Secret links: built from the public address only, for our hosts only, never cached, never readable in cookies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agora.auth import services
from agora.auth.models import PasswordResetRequest
from agora.core.mail import OutboxMessage
from tests.conftest import PASSWORD, csrf_token, login, make_app, post

PUBLIC = "https://agora.example.org"
SECRET_LINK = re.compile(r"https://agora\.example\.org(/(?:join|setup|ical|password/reset)/([\w-]+)(?:\.ics)?)")


def outbox_bodies(db) -> list[str]:
    return list(db.session.scalars(select(OutboxMessage.body)))


def deliver_resets(db) -> None:
    services.send_reset_mails()
    db.session.commit()


def test_reset_request_for_a_host_that_is_not_ours_is_refused_and_mails_nothing(client, make_user, db):
    make_user("victime", email="victime@example.org")
    token = csrf_token(client)
    response = client.post(
        "/password/forgot", data={"email": "victime@example.org", "csrf_token": token}, headers={"Host": "evil.example"}
    )
    assert response.status_code == 400
    assert "Requête invalide" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PasswordResetRequest)) == 0
    deliver_resets(db)
    assert not any("evil.example" in body for body in outbox_bodies(db))


def test_reset_mail_links_to_the_public_address_not_to_the_host_asked_for(client, make_user, db, monkeypatch):
    """The request's host is ours but not the public address: the link still goes to the public address."""
    monkeypatch.setitem(client.application.config, "BASE_URL", PUBLIC)
    make_user("odile", email="odile@example.org")
    assert post(client, "/password/forgot", {"email": "odile@example.org"}).status_code == 200
    deliver_resets(db)
    [body] = outbox_bodies(db)
    assert re.search(r"https://agora\.example\.org/password/reset/[\w-]+", body)
    assert "localhost" not in body


@pytest.mark.parametrize("trust_forwarded_host, status", [(False, 200), (True, 400)])
def test_behind_a_proxy_a_clients_own_forwarded_host_gets_nowhere(
    tmp_path, database_url, make_user, db, trust_forwarded_host, status
):
    make_user("victime", email="victime@example.org")
    proxied = make_app(tmp_path, database_url, PROXY_COUNT=1, PROXY_FORWARDED_HOST=trust_forwarded_host)
    client = proxied.test_client()
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "//evil.example", "X-Forwarded-For": "10.1.1.1"}
    page = client.get("/password/forgot", headers=forged)
    assert page.status_code == status
    if status == 200:
        assert "evil.example" not in page.get_data(as_text=True)  # no link follows the forged prefix either
        token = csrf_token(client)
        response = client.post(
            "/password/forgot", data={"email": "victime@example.org", "csrf_token": token}, headers=forged
        )
        assert response.status_code == 200
        deliver_resets(db)
        [body] = outbox_bodies(db)
        assert "http://localhost/password/reset/" in body and "evil.example" not in body
    with proxied.app_context():
        from agora.extensions import db as proxied_db

        proxied_db.session.remove()
        proxied_db.engine.dispose()


def test_other_hosts_are_refused_everywhere_but_the_health_check(client):
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "localhost.evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    # A load balancer probes by address: the health check answers and shows nothing else.
    health = client.get("/healthz", headers={"Host": "10.0.0.5:8000"})
    assert health.status_code == 200 and health.json == {"status": "ok", "database": "ok"}


def test_allowed_hosts_come_from_the_public_address_unless_given():
    from agora.config import allowed_hosts

    assert allowed_hosts("", "https://Agora.Example.org/") == ["agora.example.org", "localhost", "127.0.0.1", "[::1]"]
    assert allowed_hosts("agora.example.org, .quartier.example", PUBLIC) == ["agora.example.org", ".quartier.example"]


def test_no_link_is_built_from_the_request_anywhere_in_the_code():
    """Absolute links go through agora.core.urls.public_url (or secret_url): grep for the request-based ways."""
    root = Path(__file__).resolve().parents[2]
    forbidden = re.compile(r"(?<!\w)_external\s*=\s*True|request\.(host_url|url_root|host\b|base_url)")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("agora", "templates")
        for path in (root / folder).rglob("*")
        if path.suffix in {".py", ".html", ".txt"}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line) and path.name != "security.py"
    ]
    assert offenders == []


# Pages that show a secret link ---------------------------------------------------------------


def session_contents(app, client) -> str:
    """The session cookie as anyone holding it can read it (it is signed, not encrypted)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return json.dumps(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def shown_secret(page: str) -> tuple[str, str]:
    """Return (path, raw secret) of the secret link a page shows."""
    found = SECRET_LINK.search(page)
    assert found, page[:500]
    return found.group(1), found.group(2)


def _invitation(app, client, space):
    data = {"inv-role": "member", "inv-max_uses": "1", "inv-days": "14", "inv-label": "Affiche"}
    return post(client, f"/s/{space.slug}/members/manage/invitations/", data).location


def _setup_link(app, client, space):
    data = {"acc-username": "jeanne.p", "acc-display_name": "Jeanne", "acc-role": "reader"}
    return post(client, f"/s/{space.slug}/members/manage/accounts/", data).location


def _space_feed(app, client, space):
    post(client, f"/s/{space.slug}/agenda/subscribe")
    return f"/s/{space.slug}/agenda/subscribe"


def _all_spaces_feed(app, client, space):
    post(client, "/agenda/subscribe")
    return "/agenda/"


def _admin_reset(app, client, space):
    with app.app_context():
        from agora.auth.models import User
        from agora.extensions import db

        me = db.session.scalar(select(User).where(User.username_key == "mediatrice"))
        me.is_site_admin = True
        other = services.create_user("oublieux", PASSWORD)
        db.session.commit()
        other_id = other.id
    return post(client, f"/admin/users/{other_id}/reset").location


@pytest.mark.parametrize("make_link", [_invitation, _setup_link, _space_feed, _all_spaces_feed, _admin_reset])
def test_a_page_showing_a_secret_link_is_not_stored_and_the_cookie_does_not_hold_the_secret(
    app, make_user, make_space, make_member, monkeypatch, make_link
):
    monkeypatch.setitem(app.config, "BASE_URL", PUBLIC)
    space = make_space()
    user = make_user("mediatrice")
    make_member(space, user, "admin")
    client = app.test_client()
    login(client, "mediatrice")
    page_url = make_link(app, client, space)
    response = client.get(page_url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    _path, raw = shown_secret(response.get_data(as_text=True))
    assert raw not in session_contents(app, client)
    again = client.get(page_url)  # a reload still shows it, from what the server can decrypt
    assert shown_secret(again.get_data(as_text=True))[1] == raw


def test_a_page_without_a_secret_may_be_cached_as_before(member_client):
    client, space, _user = member_client("member")
    assert "no-store" not in client.get(f"/s/{space.slug}/").headers.get("Cache-Control", "")


def test_the_reset_and_setup_pages_reached_through_their_secret_are_not_stored(app, client, make_user, db):
    user = make_user("mamadou", password=None, email="mamadou@example.org")
    with app.test_request_context():
        from agora.auth.models import User

        setup = services.issue_token(db.session.get(User, user.id), "setup")
        reset = services.issue_token(db.session.get(User, user.id), "reset")
    db.session.commit()
    for url in (f"/setup/{setup}", f"/password/reset/{reset}"):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", url


def test_pages_reached_through_an_invitation_or_unsubscribe_link_are_not_stored(app, client, make_space, make_user, db):
    from agora.notifications.services import unsubscribe_token
    from agora.spaces import services as spaces
    from agora.spaces.models import Space

    space = make_space()
    user = make_user("abonne")
    with app.test_request_context():
        from agora.auth.models import User

        _invitation, raw = spaces.create_invitation(
            db.session.get(Space, space.id),
            role="member",
            max_uses=1,
            days=14,
            label="",
            actor=db.session.get(User, user.id),
        )
        stop = unsubscribe_token(db.session.get(User, user.id), ["reply"])
    db.session.commit()
    for url in (f"/join/{raw}", f"/unsubscribe/{stop}"):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", url


def test_a_kept_secret_is_forgotten_after_an_hour(app, monkeypatch):
    from agora.core import security

    with app.test_request_context():
        security.keep_secret("inv-1", "le-secret")
        assert security.kept_secret("inv-1") == "le-secret"
        later = security._now() + security.KEPT_SECRET_LIFETIME.total_seconds() + 1
        monkeypatch.setattr(security, "_now", lambda: later)
        assert security.kept_secret("inv-1") is None
