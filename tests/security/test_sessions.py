"""Logins live on the server: logging out, ending a session or changing the password ends every copy of its cookies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select

from agora.auth.models import LoginSession
from agora.core.time import utcnow
from tests.conftest import PASSWORD, csrf_token, login, post

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PHONE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"


def remember_login(client, username: str):
    return client.post(
        "/login", data={"username": username, "password": PASSWORD, "remember": "y", "csrf_token": csrf_token(client)}
    )


def cookie(app, client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def replay(app, name: str, value: str):
    """A fresh browser holding only a copied cookie."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    return thief


def test_a_session_cookie_copied_before_logout_opens_nothing_after(app, client, make_user):
    make_user("leo")
    login(client, "leo")
    name = app.config["SESSION_COOKIE_NAME"]
    copied = cookie(app, client, name)
    assert replay(app, name, copied).get("/profile").status_code == 200  # the copy works while logged in
    assert post(client, "/logout").status_code == 302
    response = replay(app, name, copied).get("/profile")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_remember_me_is_new_at_every_login_and_dies_at_logout(app, make_user, db):
    make_user("sarah")
    name = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    values = []
    for _ in range(2):
        client = app.test_client()
        assert remember_login(client, "sarah").status_code == 302
        values.append(cookie(app, client, name))
    assert values[0] and values[1] and values[0] != values[1]
    assert replay(app, name, values[1]).get("/profile").status_code == 200
    assert post(client, "/logout").status_code == 302
    assert cookie(app, client, name) is None  # the browser is told to forget it
    assert replay(app, name, values[1]).get("/profile").status_code == 302  # and a copy is worth nothing
    assert replay(app, name, values[0]).get("/profile").status_code == 200  # the other login goes on


def test_a_login_ends_by_itself_after_its_lifetime(app, client, make_user, db):
    make_user("rose")
    remember_login(client, "rose")
    row = db.session.scalar(select(LoginSession))
    assert row.remember and row.expires_at - row.created_at == timedelta(days=app.config["SESSION_DAYS"])
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/profile").status_code == 302


def test_my_profile_lists_my_logins_and_ends_one_or_all_others(app, make_user, db):
    user = make_user("amina")
    laptop, phone, tablet = (app.test_client() for _ in range(3))
    laptop.environ_base["HTTP_USER_AGENT"] = FIREFOX
    phone.environ_base["HTTP_USER_AGENT"] = PHONE
    for device in (laptop, phone, tablet):
        assert login(device, "amina").status_code == 302
    page = laptop.get("/profile").get_data(as_text=True)
    assert "Mes connexions" in page and "Firefox, Linux" in page and "Chrome, Android" in page
    assert "cet appareil" in page and "Appareil inconnu" in page
    phone_login = db.session.scalar(select(LoginSession).where(LoginSession.device == "Chrome, Android"))
    response = post(laptop, f"/profile/logins/{phone_login.id}/end")
    assert response.status_code == 302
    assert "Cette connexion est fermée" in laptop.get(response.location).get_data(as_text=True)
    assert phone.get("/profile").status_code == 302
    assert tablet.get("/profile").status_code == 200
    assert post(laptop, "/profile/logins/end-others").status_code == 302
    assert tablet.get("/profile").status_code == 302
    assert laptop.get("/profile").status_code == 200
    assert [row.device for row in db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id))] == [
        "Firefox, Linux"
    ]


def test_nobody_ends_someone_elses_login(app, make_user, db):
    make_user("intrus")
    target_user = make_user("cible")
    intruder, target = app.test_client(), app.test_client()
    login(intruder, "intrus")
    login(target, "cible")
    target_login = db.session.scalar(select(LoginSession).where(LoginSession.user_id == target_user.id))
    assert post(intruder, f"/profile/logins/{target_login.id}/end").status_code == 404
    assert target.get("/profile").status_code == 200


def test_a_password_reset_ends_every_login_of_the_account(app, client, make_user, db):
    user = make_user("rene", password=PASSWORD)
    elsewhere = app.test_client()
    remember_login(elsewhere, "rene")
    from agora.auth import services
    from agora.auth.models import User

    with app.test_request_context():
        raw = services.issue_token(db.session.get(User, user.id), "reset")
    db.session.commit()
    new = "le printemps revient"
    assert post(client, f"/password/reset/{raw}", {"password": new, "confirm": new}).status_code == 302
    assert elsewhere.get("/profile").status_code == 302
    assert client.get("/profile").status_code == 200


def test_reading_pages_writes_the_last_use_at_most_once_an_hour(app, client, make_user, db):
    make_user("hugo")
    login(client, "hugo")
    writes = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.get("/profile")
        client.get("/")
        assert writes == []
        row = db.session.scalar(select(LoginSession))
        row.last_used_at = utcnow() - timedelta(hours=2)
        db.session.commit()
        writes.clear()
        client.get("/profile")
        client.get("/")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(writes) == 1 and "login_sessions" in writes[0]
    db.session.expire_all()
    assert utcnow() - db.session.scalar(select(LoginSession.last_used_at)) < timedelta(minutes=1)
