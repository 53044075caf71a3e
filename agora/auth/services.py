"""Account services: creation, passwords, login throttling, one-time links, audit log.

Services flush and never commit: the view (or CLI command) that called them commits once.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from agora.auth.models import AuditEntry, LoginThrottle, User, UserToken
from agora.core.mail import queue_mail
from agora.core.services import ServiceError, one_line
from agora.core.time import utcnow
from agora.extensions import db

USERNAME_RE = re.compile(r"^[\w.\-]{3,40}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
SETUP_LINK_LIFETIME = timedelta(days=14)
RESET_LINK_LIFETIME = timedelta(hours=1)


class LoginThrottled(Exception):
    """Too many failed logins for this account or address; `minutes` until the next try."""

    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.minutes = minutes


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


#: Password hashing is memory-hard on purpose (19 MiB each, OWASP's argon2id setting): at most
#: this many at once per process, so a burst of logins cannot multiply the server's memory.
HASHING = threading.BoundedSemaphore(2)


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg.get("ARGON2_TIME_COST", 2),
        memory_cost=cfg.get("ARGON2_MEMORY_KIB", 19456),
        parallelism=cfg.get("ARGON2_PARALLELISM", 1),
    )


def hash_password(password: str) -> str:
    """Return the argon2id hash of password."""
    with HASHING:
        return _hasher().hash(password)


def check_password_rules(password: str, username: str | None = None) -> None:
    """Raise ServiceError when the password is too short, too common or the username itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            _l("Le mot de passe doit contenir au moins %(n)s caractères.", n=MIN_PASSWORD_LENGTH), field="password"
        )
    lowered = password.lower()
    if lowered in _common_passwords() or (username and lowered == username.lower()):
        raise ServiceError(_l("Ce mot de passe est trop courant : choisissez-en un autre."), field="password")


def verify_password(user: User, password: str) -> bool:
    """Return True when password matches; upgrades the stored hash when its parameters are old."""
    if not user.password_hash:
        return False
    hasher = _hasher()
    try:
        with HASHING:
            hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


def normalise_email(email: str | None) -> str | None:
    """Return the e-mail in lower case, None when empty; raise ServiceError when malformed."""
    email = (email or "").strip().lower()
    if not email:
        return None
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ServiceError(_l("Cette adresse e-mail n'est pas valide."), field="email")
    return email


def get_user_by_username(username: str) -> User | None:
    """Return the account whose username matches without regard to case, or None."""
    return db.session.scalar(select(User).where(User.username_key == username.strip().lower()))


def create_user(
    username: str,
    password: str | None = None,
    *,
    display_name: str | None = None,
    email: str | None = None,
    is_site_admin: bool = False,
) -> User:
    """Create an account. Without a password, the person sets one through a setup link.

    Raises ServiceError for a malformed or taken username, a bad e-mail or a weak password.
    """
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ServiceError(
            _l("L'identifiant doit faire de 3 à 40 caractères : lettres, chiffres, point, tiret ou tiret bas."),
            field="username",
        )
    if get_user_by_username(username) is not None:
        raise ServiceError(_l("Cet identifiant est déjà pris : choisissez-en un autre."), field="username", status=409)
    email = normalise_email(email)
    if password is not None:
        check_password_rules(password, username)
    user = User(
        username=username,
        username_key=username.lower(),
        display_name=one_line(display_name)[:80] or username,
        email=email,
        password_hash=hash_password(password) if password is not None else None,
        is_site_admin=is_site_admin,
    )
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_l("Cet identifiant est déjà pris : choisissez-en un autre."), field="username", status=409) from None
    return user


def set_password(user: User, password: str) -> None:
    """Replace the password and end every other session of the account (the version changes)."""
    check_password_rules(password, user.username)
    user.password_hash = hash_password(password)
    user.session_version += 1
    # Any setup or reset link still lying around must not reopen the account.
    db.session.execute(
        update(UserToken).where(UserToken.user_id == user.id, UserToken.used_at.is_(None)).values(used_at=utcnow())
    )


def ensure_first_admin() -> tuple[User, str] | None:
    """Create the hosting admin `admin` with a random password when no account exists yet.

    Returns (user, password) when it created one, None otherwise; the caller commits.
    """
    if db.session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(12)
    user = create_user("admin", password, display_name="Administrateur", is_site_admin=True)
    audit("account.created", None, target=user.username, details={"site_admin": True})
    return user, password


# Login throttling -------------------------------------------------------------------------


def _throttle_keys(username: str, ip: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()[:100]}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def throttle_wait(username: str, ip: str | None, now: datetime | None = None) -> int:
    """Return the minutes (rounded up) before this account or address may try again; 0 when free."""
    now = now or utcnow()
    locked = db.session.scalars(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.key.in_(_throttle_keys(username, ip)), LoginThrottle.locked_until > now
        )
    ).all()
    if not locked:
        return 0
    seconds = (max(locked) - now).total_seconds()
    return max(1, int(-(-seconds // 60)))


def record_failure(username: str, ip: str | None, now: datetime | None = None) -> None:
    """Count one failed login for the account and the address; lock both past the limit."""
    now = now or utcnow()
    cfg = current_app.config
    window = timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
    for key in _throttle_keys(username, ip):
        # Row lock (PostgreSQL) so that failures from several workers at once all count.
        row = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0, first_failure_at=now)
            try:
                with db.session.begin_nested():
                    db.session.add(row)
            except IntegrityError:
                row = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row.first_failure_at <= now - window:
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= cfg["LOGIN_MAX_FAILURES"]:
            row.locked_until = now + window
    db.session.flush()


def clear_failures(username: str) -> None:
    """Forget the failed logins of an account after a successful login."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == _throttle_keys(username, None)[0]))


def authenticate(username: str, password: str, ip: str | None) -> User | None:
    """Return the user when the credentials are right and the account is enabled, None otherwise.

    Raises LoginThrottled while the account or the address is locked, even for the right
    password. Records the attempt in the audit log either way.
    """
    wait = throttle_wait(username, ip)
    if wait:
        audit("login.throttled", None, target=username[:100], ip=ip)
        raise LoginThrottled(wait)
    user = get_user_by_username(username)
    if user is None or not verify_password(user, password) or user.is_disabled:
        if user is None:
            # Same work as a real check, so timing does not tell which usernames exist.
            _hasher().hash(password)
        record_failure(username, ip)
        audit("login.failed", user, target=username[:100], ip=ip)
        return None
    clear_failures(username)
    user.last_login_at = utcnow()
    audit("login.success", user, target=user.username, ip=ip)
    return user


# One-time links ---------------------------------------------------------------------------


def hash_token(raw: str) -> str:
    """Return the SHA-256 hex digest under which a secret link is stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(user: User, purpose: str) -> str:
    """Create a single-use link secret ("setup" or "reset") for user and return it; older ones die."""
    lifetime = SETUP_LINK_LIFETIME if purpose == "setup" else RESET_LINK_LIFETIME
    now = utcnow()
    db.session.execute(
        update(UserToken)
        .where(UserToken.user_id == user.id, UserToken.purpose == purpose, UserToken.used_at.is_(None))
        .values(used_at=now)
    )
    raw = secrets.token_urlsafe(32)
    db.session.add(UserToken(user_id=user.id, purpose=purpose, token_hash=hash_token(raw), expires_at=now + lifetime))
    db.session.flush()
    return raw


def find_token(raw: str, purpose: str) -> UserToken | None:
    """Return the unused, unexpired token of that purpose matching raw, or None."""
    if not raw or len(raw) > 100:
        return None
    token = db.session.scalar(
        select(UserToken).where(UserToken.token_hash == hash_token(raw), UserToken.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow() or token.user.is_disabled:
        return None
    return token


def use_token(token: UserToken, password: str) -> User:
    """Set the account's password through a one-time link and spend the link.

    Raises ServiceError for a weak password (the link stays usable).
    """
    user = token.user
    set_password(user, password)
    token.used_at = utcnow()
    audit(f"password.{token.purpose}", user, target=user.username)
    return user


def request_password_reset(email: str, reset_url_for) -> None:
    """Queue a reset e-mail to every enabled account with that address; silent when there is none.

    reset_url_for(raw) builds the absolute link. The answer shown must not depend on the result.
    """
    try:
        email = normalise_email(email)
    except ServiceError:
        return
    if not email:
        return
    users = db.session.scalars(select(User).where(User.email == email, User.is_disabled.is_(False))).all()
    recent = utcnow() - timedelta(minutes=5)
    for user in users:
        pending = db.session.scalar(
            select(UserToken.id).where(UserToken.user_id == user.id, UserToken.purpose == "reset",
                                       UserToken.used_at.is_(None), UserToken.created_at > recent)
        )
        if pending is not None:  # one mail every five minutes at most: no flooding someone's inbox
            continue
        raw = issue_token(user, "reset")
        queue_mail(
            user.email,
            str(_l("Réinitialiser votre mot de passe")),
            str(
                _l(
                    "Bonjour %(name)s,\n\nPour choisir un nouveau mot de passe pour le compte « %(username)s », "
                    "ouvrez ce lien dans l'heure :\n\n%(url)s\n\nSi vous n'avez rien demandé, ignorez ce message.",
                    name=user.display_name,
                    username=user.username,
                    url=reset_url_for(raw),
                )
            ),
        )
        audit("password.reset_requested", user, target=user.username)


# Audit log --------------------------------------------------------------------------------


def audit(
    action: str,
    actor: User | None,
    *,
    space=None,
    target: str | None = None,
    details: dict | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add an audit log entry to the current transaction and return it."""
    if ip is None:
        ip = _request_ip()
    entry = AuditEntry(
        action=action,
        actor_id=actor.id if actor is not None else None,
        space_slug=getattr(space, "slug", space),
        target=target,
        details=details or {},
        ip=ip,
    )
    db.session.add(entry)
    return entry


def _request_ip() -> str | None:
    from flask import has_request_context, request

    return request.remote_addr if has_request_context() else None
