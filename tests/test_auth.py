"""Login, throttling, sessions, passwords, setup and reset links."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agora.auth import services
from agora.auth.models import AuditEntry, LoginThrottle, User, UserToken
from agora.core.mail import OutboxMessage
from agora.core.time import utcnow
from tests.conftest import PASSWORD, csrf_token, login, make_app, post


def audit_actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_login_with_right_password_opens_the_dashboard(client, make_user, db):
    user = make_user("Fatima.B", display_name="Fatima")
    response = login(client, "fatima.b")  # usernames ignore case
    assert response.status_code == 302 and response.location == "/"
    assert "Bonjour Fatima" in client.get("/").get_data(as_text=True)
    assert audit_actions(db)[-1] == "login.success"
    assert db.session.get(User, user.id).last_login_at is not None


def test_wrong_password_is_refused_and_logged(client, make_user, db):
    make_user("karim")
    response = login(client, "karim", "pas le bon mot de passe")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert audit_actions(db)[-1] == "login.failed"


def test_disabled_account_cannot_log_in(client, make_user, db):
    user = make_user("bernard")
    db.session.get(User, user.id).is_disabled = True
    db.session.commit()
    assert login(client, "bernard").status_code == 401


def test_next_only_leads_to_a_path_on_this_server(client, make_user):
    make_user("lucie")
    token = csrf_token(client)
    for target, expected in [("/profile", "/profile"), ("https://evil.example/", "/"), ("//evil.example", "/"),
                             ("/\\evil.example", "/")]:
        client.post("/logout", data={"csrf_token": token})
        token = csrf_token(client)
        response = client.post(f"/login?next={target}", data={"username": "lucie", "password": PASSWORD, "csrf_token": token})
        assert response.location == expected, target
        token = csrf_token(client)


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/profile")
    assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_throttle_locks_after_repeated_failures_even_for_the_right_password(client, make_user, db):
    make_user("jeanne")
    for _ in range(5):
        assert login(client, "jeanne", "mauvais mot de passe").status_code == 401
    response = login(client, "jeanne")
    assert response.status_code == 429
    assert "patientez 15 minute" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still logged out
    assert "login.throttled" in audit_actions(db)


def test_success_resets_the_account_throttle(client, make_user, db):
    make_user("ahmed")
    for _ in range(3):
        login(client, "ahmed", "mauvais mot de passe")
    assert login(client, "ahmed").status_code == 302
    assert db.session.get(LoginThrottle, "user:ahmed") is None


def test_throttle_is_shared_by_two_app_instances_on_one_database(app, make_user, tmp_path, database_url):
    make_user("sophie")
    other = make_app(tmp_path, database_url)
    clients = [app.test_client(), other.test_client()]
    for attempt in range(5):
        assert login(clients[attempt % 2], "sophie", "mauvais mot de passe").status_code == 401
    assert login(clients[0], "sophie").status_code == 429
    assert login(clients[1], "sophie").status_code == 429
    with other.app_context():
        from agora.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_throttle_ends_after_the_lock_period(app, make_user, db):
    make_user("marc")
    start = utcnow()
    for _ in range(5):
        with app.test_request_context():
            services.record_failure("marc", "10.0.0.1", now=start)
    db.session.commit()
    assert services.throttle_wait("marc", None, now=start + timedelta(minutes=1)) == 14
    assert services.throttle_wait("marc", None, now=start + timedelta(minutes=16)) == 0


def test_throttle_per_address_covers_many_usernames(client, make_user):
    make_user("victime")
    for n in range(5):
        login(client, f"inconnu{n}", "mauvais mot de passe")
    assert login(client, "victime").status_code == 429


def test_password_change_ends_other_sessions(app, client, make_user):
    make_user("aicha")
    other_device = app.test_client()
    login(client, "aicha")
    login(other_device, "aicha")
    new_password = "un autre mot de passe solide"
    response = post(client, "/profile/password",
                    {"pw-current": PASSWORD, "pw-password": new_password, "pw-confirm": new_password})
    assert response.status_code == 302
    assert client.get("/profile").status_code == 200  # this session continues
    assert other_device.get("/profile").status_code == 302  # the other one is over
    assert login(app.test_client(), "aicha", new_password).status_code == 302


@pytest.mark.parametrize(
    "password, message",
    [("court", "au moins 10 caractères"), ("azertyuiop", "trop courant"), ("motdepasse123", "trop courant")],
)
def test_weak_passwords_are_refused(client, make_user, db, password, message):
    user = make_user("nadia")
    login(client, "nadia")
    before = db.session.get(User, user.id).password_hash
    response = post(client, "/profile/password", {"pw-current": PASSWORD, "pw-password": password, "pw-confirm": password})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before


def test_wrong_current_password_changes_nothing(client, make_user, db):
    user = make_user("paul")
    login(client, "paul")
    response = post(client, "/profile/password", {"pw-current": "faux faux faux", "pw-password": "nouveau mot de passe", "pw-confirm": "nouveau mot de passe"})
    assert response.status_code == 400
    assert db.session.get(User, user.id).session_version == 1


def test_profile_edit(client, make_user, db):
    user = make_user("habib")
    login(client, "habib")
    response = post(client, "/profile", {"display_name": "Habib K.", "email": "Habib@Example.ORG", "language": "en",
                                        "timezone": "Indian/Reunion"})
    assert response.status_code == 302
    saved = db.session.get(User, user.id)
    assert (saved.display_name, saved.email, saved.language, saved.timezone) == ("Habib K.", "habib@example.org", "en", "Indian/Reunion")
    assert '<html lang="en">' in client.get("/profile").get_data(as_text=True)


def test_profile_refuses_a_bad_email(client, make_user, db):
    user = make_user("gaby", email="gaby@example.org")
    login(client, "gaby")
    response = post(client, "/profile", {"display_name": "Gaby", "email": "pas-une-adresse", "language": "fr", "timezone": "Europe/Paris"})
    assert response.status_code == 400
    assert db.session.get(User, user.id).email == "gaby@example.org"


def reset_link(db) -> str:
    body = db.session.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://localhost(/password/reset/\S+)", body).group(1)


def test_forgotten_password_gives_the_same_answer_whether_or_not_the_account_exists(client, make_user, db):
    make_user("odile", email="odile@example.org")
    known = post(client, "/password/forgot", {"email": "odile@example.org"})
    unknown = post(client, "/password/forgot", {"email": "personne@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert db.session.scalar(select(OutboxMessage.recipient)) == "odile@example.org"


def test_reset_link_works_once(client, make_user, db):
    make_user("rene", email="rene@example.org")
    post(client, "/password/forgot", {"email": "rene@example.org"})
    link = reset_link(db)
    assert "Choisir un nouveau mot de passe" in client.get(link).get_data(as_text=True)
    new = "le printemps revient"
    response = post(client, link, {"password": new, "confirm": new})
    assert response.status_code == 302
    assert client.get("/profile").status_code == 200  # logged in by the reset
    assert client.get(link).status_code == 404  # spent
    assert login(client.application.test_client(), "rene", new).status_code == 302


def test_reset_link_expires_after_an_hour(client, make_user, db):
    make_user("yves", email="yves@example.org")
    post(client, "/password/forgot", {"email": "yves@example.org"})
    link = reset_link(db)
    token = db.session.scalar(select(UserToken))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(link).status_code == 404
    assert client.get("/password/reset/not-a-token").status_code == 404


def test_setup_link_lets_someone_without_email_choose_a_password_once(app, client, make_user, db):
    user = make_user("mamadou", password=None)
    with app.test_request_context():
        raw = services.issue_token(db.session.get(User, user.id), "setup")
    db.session.commit()
    assert login(app.test_client(), "mamadou", "nimporte quoi ici").status_code == 401
    response = post(client, f"/setup/{raw}", {"password": "mon jardin fleuri", "confirm": "mon jardin fleuri"})
    assert response.status_code == 302
    assert client.get(f"/setup/{raw}").status_code == 404
    assert login(app.test_client(), "mamadou", "mon jardin fleuri").status_code == 302


def test_setup_link_with_mismatched_passwords_stays_usable(app, client, make_user, db):
    user = make_user("ines", password=None)
    with app.test_request_context():
        raw = services.issue_token(db.session.get(User, user.id), "setup")
    db.session.commit()
    response = post(client, f"/setup/{raw}", {"password": "mon jardin fleuri", "confirm": "autre chose encore"})
    assert response.status_code == 400
    assert "Les deux mots de passe sont différents" in response.get_data(as_text=True)
    assert client.get(f"/setup/{raw}").status_code == 200


def test_a_session_planted_before_login_gains_nothing_from_it(app, make_user):
    """Session fixation: whoever holds the cookie from before the login is not logged in by it."""
    make_user("victime")
    victim = app.test_client()
    victim.get("/login")
    with victim.session_transaction() as planted:
        planted["attaquant"] = "valeur connue"
    name = app.config["SESSION_COOKIE_NAME"]
    before = victim.get_cookie(name).value
    assert login(victim, "victime").status_code == 302
    after = victim.get_cookie(name).value
    assert after != before
    with victim.session_transaction() as current:
        assert "attaquant" not in current and "_user_id" in current
    attacker = app.test_client()
    attacker.set_cookie(name, before)
    response = attacker.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_logout_ends_the_session(client, make_user):
    make_user("leo")
    login(client, "leo")
    assert post(client, "/logout").status_code == 302
    assert client.get("/profile").status_code == 302
