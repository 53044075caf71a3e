"""Login, throttling, sessions, passwords, setup and reset links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agora.auth import services
from agora.auth.models import AuditEntry, LoginSession, LoginThrottle, PasswordResetRequest, User, UserToken
from agora.core.mail import OutboxMessage
from agora.core.time import utcnow
from tests.conftest import PASSWORD, csrf_token, login, make_app, post, select_options


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
    for target, expected in [
        ("/profile", "/profile"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
    ]:
        client.post("/logout", data={"csrf_token": token})
        token = csrf_token(client)
        response = client.post(
            f"/login?next={target}", data={"username": "lucie", "password": PASSWORD, "csrf_token": token}
        )
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
    assert db.session.get(LoginThrottle, "pair:127.0.0.1 ahmed") is None


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
    with app.test_request_context():
        assert services.throttle_wait("marc", "10.0.0.1", now=start + timedelta(minutes=1)) == 14
        assert services.throttle_wait("marc", "10.0.0.1", now=start + timedelta(minutes=16)) == 0


def test_throttle_per_address_covers_many_usernames(client, make_user):
    make_user("victime")
    for n in range(20):
        login(client, f"inconnu{n}", "mauvais mot de passe")
    assert login(client, "victime").status_code == 429


def test_password_change_ends_other_sessions(app, client, make_user):
    make_user("aicha")
    other_device = app.test_client()
    login(client, "aicha")
    login(other_device, "aicha")
    new_password = "un autre mot de passe solide"
    response = post(
        client, "/profile/password", {"pw-current": PASSWORD, "pw-password": new_password, "pw-confirm": new_password}
    )
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
    response = post(
        client, "/profile/password", {"pw-current": PASSWORD, "pw-password": password, "pw-confirm": password}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before


def test_wrong_current_password_changes_nothing(client, make_user, db):
    user = make_user("paul")
    login(client, "paul")
    response = post(
        client,
        "/profile/password",
        {"pw-current": "faux faux faux", "pw-password": "nouveau mot de passe", "pw-confirm": "nouveau mot de passe"},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(LoginSession).where(LoginSession.user_id == user.id)) == 1
    assert client.get("/profile").status_code == 200


def test_profile_edit(client, make_user, db):
    user = make_user("habib")
    login(client, "habib")
    response = post(
        client,
        "/profile",
        {"display_name": "Habib K.", "email": "Habib@Example.ORG", "language": "en", "timezone": "Indian/Reunion"},
    )
    assert response.status_code == 302
    saved = db.session.get(User, user.id)
    assert (saved.display_name, saved.email, saved.language, saved.timezone) == (
        "Habib K.",
        "habib@example.org",
        "en",
        "Indian/Reunion",
    )
    assert '<html lang="en">' in client.get("/profile").get_data(as_text=True)


def test_profile_offers_the_french_zones_by_name_and_refuses_an_unknown_one(client, make_user, db):
    user = make_user("mireille")
    db.session.get(User, user.id).timezone = "America/Martinique"
    db.session.commit()
    login(client, "mireille")
    options = select_options(client.get("/profile").get_data(as_text=True), "timezone")
    assert [(o.label, o.group) for o in options if o.selected] == [("Martinique", "France et outre-mer")]
    assert options[0].label == "Paris (France métropolitaine)" and options[-1].group == "Autres fuseaux"
    form = {"display_name": "Mireille", "email": "", "language": "fr", "timezone": "Mars/Olympus"}
    response = post(client, "/profile", form)
    assert response.status_code == 400
    assert "Ce fuseau horaire n'existe pas : choisissez-en un dans la liste." in response.get_data(as_text=True)
    assert db.session.get(User, user.id).timezone == "America/Martinique"
    assert post(client, "/profile", {**form, "timezone": "Asia/Tokyo"}).status_code == 302
    assert db.session.get(User, user.id).timezone == "Asia/Tokyo"


def test_profile_refuses_a_bad_email(client, make_user, db):
    user = make_user("gaby", email="gaby@example.org")
    login(client, "gaby")
    response = post(
        client,
        "/profile",
        {"display_name": "Gaby", "email": "pas-une-adresse", "language": "fr", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 400
    assert db.session.get(User, user.id).email == "gaby@example.org"


def deliver_resets(db) -> int:
    """Turn the reset requests into mails, as the background sender does (in the `db` fixture's context)."""
    written = services.send_reset_mails()
    db.session.commit()
    return written


def reset_link(db) -> str:
    deliver_resets(db)
    body = db.session.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://localhost(/password/reset/\S+)", body).group(1)


def test_forgotten_password_gives_the_same_answer_whether_or_not_the_account_exists(client, make_user, db):
    make_user("odile", email="odile@example.org")
    known = post(client, "/password/forgot", {"email": "odile@example.org"})
    unknown = post(client, "/password/forgot", {"email": "personne@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert deliver_resets(db) == 1
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


# The same work whatever the account ----------------------------------------------------------


@pytest.fixture
def argon2_calls(monkeypatch):
    """Count argon2 hashes and verifications made by the app."""
    from argon2 import PasswordHasher

    calls = {"hash": 0, "verify": 0}
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def counted_hash(self, *args, **kwargs):
        calls["hash"] += 1
        return real_hash(self, *args, **kwargs)

    def counted_verify(self, *args, **kwargs):
        calls["verify"] += 1
        return real_verify(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counted_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counted_verify)
    return calls


@pytest.mark.parametrize("account", ["with a password", "waiting for its setup link", "disabled", "unknown"])
@pytest.mark.parametrize("password", ["the right one", "a wrong one"])
def test_a_refused_login_costs_one_hash_check_whatever_the_account(
    app, client, make_user, db, argon2_calls, account, password
):
    if account != "unknown":
        user = make_user("compte", password=None if account == "waiting for its setup link" else PASSWORD)
        if account == "disabled":
            db.session.get(User, user.id).is_disabled = True
            db.session.commit()
    with app.test_request_context():
        services.verify_password(None, "warm up")  # the stand-in hash is made once per process
    token = csrf_token(client)
    argon2_calls.update(hash=0, verify=0)
    typed = PASSWORD if password == "the right one" else "pas le bon mot de passe"
    response = client.post("/login", data={"username": "compte", "password": typed, "csrf_token": token})
    expected = 302 if (account == "with a password" and password == "the right one") else 401
    assert response.status_code == expected
    assert argon2_calls == {"hash": 0, "verify": 1}


def statements_of(db, request):
    """The SQL a request runs, without its parameters."""
    from sqlalchemy import event

    seen = []

    def note(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        response = request()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return response, seen


def test_asking_for_a_reset_does_the_same_work_for_a_known_and_an_unknown_address(client, make_user, db):
    make_user("odile", email="odile@example.org")
    token = csrf_token(client)
    answers = {}
    for email in ("odile@example.org", "personne@example.org"):
        answers[email] = statements_of(
            db, lambda email=email: client.post("/password/forgot", data={"email": email, "csrf_token": token})
        )
    (known, known_sql), (unknown, unknown_sql) = answers.values()
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert known_sql == unknown_sql and any("password_reset_requests" in s for s in known_sql)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # nothing rendered in the request
    assert deliver_resets(db) == 1
    assert db.session.scalar(select(OutboxMessage.recipient)) == "odile@example.org"
    assert db.session.scalar(select(func.count()).select_from(PasswordResetRequest)) == 0


def test_reset_mail_is_written_in_the_accounts_language(client, make_user, db):
    user = make_user("lisa", email="lisa@example.org")
    db.session.get(User, user.id).language = "en"
    db.session.commit()
    post(client, "/password/forgot", {"email": "lisa@example.org"})
    deliver_resets(db)
    assert db.session.scalar(select(OutboxMessage.subject)) == "Reset your password"


# Throttling: per (account, address) and per address -----------------------------------------------

OWNER, ATTACKER, OTHER = "10.0.0.1", "10.0.0.66", "10.0.0.9"


@pytest.mark.parametrize(
    "failures, attempt, allowed",
    [
        # (address, account, failures) before; (address, account, right password?); let in?
        ([(ATTACKER, "cible", 5)], (OWNER, "cible", True), True),  # the owner elsewhere is not locked out
        ([(ATTACKER, "cible", 5)], (ATTACKER, "cible", True), False),  # the guesser is, even with the right password
        ([(ATTACKER, "cible", 5)], (ATTACKER, "autre", True), True),  # for that account only
        ([(OWNER, "cible", 4)], (OWNER, "cible", True), True),  # typos below the limit
        ([(ATTACKER, f"nom{n}", 1) for n in range(20)], (ATTACKER, "autre", True), False),  # one address, many names
        ([(f"10.1.0.{n}", "cible", 1) for n in range(20)], (OWNER, "cible", True), True),  # many addresses, one name...
        ([(f"10.1.0.{n}", "cible", 1) for n in range(20)], ("10.1.0.3", "cible", True), False),  # ...that failed: out
        ([(f"10.1.0.{n}", "cible", 1) for n in range(20)], (OTHER, "cible", False), True),  # a new address may try
    ],
)
def test_throttle_table(app, make_user, db, failures, attempt, allowed):
    make_user("cible")
    make_user("autre")
    for address, name, count in failures:
        with app.test_request_context():
            for _ in range(count):
                services.record_failure(name, address)
    db.session.commit()
    address, name, right = attempt
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    response = login(client, name, PASSWORD if right else "pas le bon mot de passe")
    if allowed:
        assert response.status_code == (302 if right else 401)
    else:
        assert response.status_code == 429
        assert "patientez 15 minute" in response.get_data(as_text=True)
        assert client.get("/").status_code == 302  # still logged out


def test_counters_that_ran_out_are_removed(app, db):
    start = utcnow()
    with app.test_request_context():
        services.record_failure("ancien", "10.0.0.1", now=start)
        services.record_failure("recent", "10.0.0.2", now=start + timedelta(minutes=20))
    db.session.commit()
    assert sorted(db.session.scalars(select(LoginThrottle.key))) == [
        "ip:10.0.0.2",
        "pair:10.0.0.2 recent",
        "user:recent",
    ]
