"""Account services: creation, passwords, logins, login throttling, one-time links, audit log.

Services flush and never commit: the view (or CLI command) that called them commits once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from agora.auth.models import AuditEntry, LoginSession, LoginThrottle, PasswordResetRequest, User, UserToken
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


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism).hash(
        secrets.token_urlsafe(16)
    )


def verify_password(user: User | None, password: str) -> bool:
    """Return True when password matches; upgrades the stored hash when its parameters are old.

    Always spends exactly one argon2 verification, against a stand-in hash when there is no
    account or it has no password yet: the time taken tells nothing about the account.
    """
    hasher = _hasher()
    stored = user.password_hash if user is not None else None
    try:
        with HASHING:
            hasher.verify(stored or _dummy_hash(hasher.time_cost, hasher.memory_cost, hasher.parallelism), password)
    except (VerificationError, InvalidHashError):
        return False
    if not stored:
        return False
    if hasher.check_needs_rehash(stored):
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


def suggest_username(wanted: str) -> str | None:
    """A free identifier close to what the person typed: « Moussa Koné » gives « moussa.kone »
    (or « moussa.kone2 » when taken). None when nothing usable is left of it."""
    letters = unicodedata.normalize("NFKD", wanted).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", ".", letters).strip(".")[:36]
    if len(base) < 3:
        return None
    taken = set(db.session.scalars(select(User.username_key).where(User.username_key.like(f"{base}%"))))
    for candidate in (base, *(f"{base}{n}" for n in range(2, 100))):
        if candidate not in taken:
            return candidate
    return None


def account_problems(username: str, email: str | None, password: str | None) -> list[ServiceError]:
    """Everything wrong with a new account's identifier, address and password, all at once, so a
    form can show every error on the first try. An empty list when create_user would accept them."""
    problems = []
    username = (username or "").strip()
    if username:
        suggestion = suggest_username(username)
        if not USERNAME_RE.match(username):
            message = _l(
                "L'identifiant doit faire de 3 à 40 caractères : lettres, chiffres, point, tiret ou tiret bas."
            )
            if suggestion:
                message = _l(
                    "L'identifiant doit faire de 3 à 40 caractères : lettres, chiffres, point, tiret ou tiret bas. "
                    "Essayez « %(suggestion)s ».",
                    suggestion=suggestion,
                )
            problems.append(ServiceError(message, field="username"))
        elif get_user_by_username(username) is not None:
            message = _l("Cet identifiant est déjà pris : choisissez-en un autre.")
            if suggestion:
                message = _l("Cet identifiant est déjà pris. Essayez « %(suggestion)s ».", suggestion=suggestion)
            problems.append(ServiceError(message, field="username", status=409))
    try:
        normalise_email(email)
    except ServiceError as exc:
        problems.append(exc)
    if password:
        try:
            check_password_rules(password, username)
        except ServiceError as exc:
            problems.append(exc)
    return problems


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
        raise ServiceError(
            _l("Cet identifiant est déjà pris : choisissez-en un autre."), field="username", status=409
        ) from None
    return user


def set_password(user: User, password: str) -> None:
    """Replace the password and end every login of the account (the caller opens a new one)."""
    check_password_rules(password, user.username)
    user.password_hash = hash_password(password)
    end_logins(user)
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


# Logins -----------------------------------------------------------------------------------

#: A login's "last used" is written at most this often (reading pages must not write each time).
TOUCH_EVERY = timedelta(hours=1)

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("Safari", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_summary(user_agent: str | None) -> str:
    """Return "Browser, system" read from a User-Agent, or "" when neither is recognised."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    return ", ".join(part for part in (browser, system) if part)


def open_login(user: User, *, remember: bool = False, user_agent: str | None = None) -> str:
    """Record a new login of user and return its secret, for the cookies; expired logins of user go."""
    now = utcnow()
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at <= now))
    raw = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(
            user_id=user.id,
            secret_hash=hash_token(raw),
            created_at=now,
            last_used_at=now,
            remember=remember,
            expires_at=now + timedelta(days=int(current_app.config["SESSION_DAYS"])),
            device=device_summary(user_agent)[:80],
        )
    )
    db.session.flush()
    user.__dict__["_login_secret"] = raw
    return raw


#: Asked on every request: built once, a statement keeps its cache key, so a request pays only for
#: running it (about a quarter of a millisecond less per statement than building it again).
_LIVE_LOGIN = (
    select(User, LoginSession)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(LoginSession.secret_hash == bindparam("secret_hash"), LoginSession.expires_at > bindparam("now"))
)


def load_login(raw: str, now: datetime | None = None) -> tuple[User, LoginSession] | None:
    """Return (user, login) for a login secret that is live and whose account is enabled, else None (one query)."""
    if not raw or len(raw) > 100:
        return None
    found = db.session.execute(_LIVE_LOGIN, {"secret_hash": hash_token(raw), "now": now or utcnow()}).first()
    if found is None or found[0].is_disabled:
        return None
    user, login = found
    user.__dict__["_login_secret"] = raw
    user.__dict__["_login"] = login
    return user, login


def touch_login(login: LoginSession, now: datetime | None = None) -> bool:
    """Note that the login is in use, at most once per TOUCH_EVERY; return True when it wrote."""
    now = now or utcnow()
    if now - login.last_used_at < TOUCH_EVERY:
        return False
    login.last_used_at = now
    db.session.flush()
    return True


def current_login(user: User) -> LoginSession | None:
    """Return the login a user object was loaded through, None when it was not loaded from cookies."""
    return user.__dict__.get("_login")


def user_logins(user: User) -> list[LoginSession]:
    """Return the live logins of user, the most recently used first."""
    return list(
        db.session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.expires_at > utcnow())
            .order_by(LoginSession.last_used_at.desc(), LoginSession.id.desc())
        )
    )


def end_login(user: User, login_id: int) -> bool:
    """End one login of user (by id); return False when user has no such login."""
    return bool(
        db.session.execute(
            delete(LoginSession).where(LoginSession.id == login_id, LoginSession.user_id == user.id)
        ).rowcount
    )


def end_logins(user: User, *, keep_id: int | None = None) -> int:
    """End every login of user but keep_id; return how many ended."""
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_id is not None:
        statement = statement.where(LoginSession.id != keep_id)
    return db.session.execute(statement).rowcount


def disable_user(user: User, *, actor: User | None, via: str | None = None) -> None:
    """Disable an account: its logins end at once and the change is audited.

    Raises ServiceError (409) when actor is disabling their own account.
    """
    if actor is not None and actor.id == user.id:
        raise ServiceError(_l("Vous ne pouvez pas désactiver votre propre compte."), status=409)
    user.is_disabled = True
    end_logins(user)
    audit("account.disabled", actor, target=user.username, details={"via": via} if via else None)
    db.session.flush()


def enable_user(user: User, *, actor: User | None, via: str | None = None) -> None:
    """Let a disabled account log in again; audited."""
    user.is_disabled = False
    audit("account.enabled", actor, target=user.username, details={"via": via} if via else None)
    db.session.flush()


def end_login_by_secret(raw: str | None) -> None:
    """End the login holding that secret (at logout)."""
    if raw:
        db.session.execute(delete(LoginSession).where(LoginSession.secret_hash == hash_token(raw)))


# Login throttling -------------------------------------------------------------------------
#
# Three counters per failure: the (address, account) pair, the address, and the account. The
# pair locks after LOGIN_MAX_FAILURES, the address after LOGIN_MAX_ADDRESS_FAILURES whatever the
# accounts. The account counter never locks out an address that has not failed for it: someone
# guessing from elsewhere cannot keep the owner out, and the owner's right password gets in.


def _throttle_keys(username: str, ip: str | None, scope: str = "") -> dict[str, str]:
    """The counters' keys. A `scope` ("code:" for invitation codes) keeps other guesses apart from
    logins: a room mistyping codes on one shared address does not lock its people's logins."""
    name, address = username.strip().lower()[:64], (ip or "-")[:45]
    return {"pair": f"{scope}pair:{address} {name}", "ip": f"{scope}ip:{address}", "user": f"{scope}user:{name}"}


def _limits() -> dict[str, int]:
    cfg = current_app.config
    return {
        "pair": cfg["LOGIN_MAX_FAILURES"],
        "ip": cfg["LOGIN_MAX_ADDRESS_FAILURES"],
        "user": cfg["LOGIN_MAX_ACCOUNT_FAILURES"],
    }


def throttle_wait(username: str, ip: str | None, now: datetime | None = None, *, scope: str = "") -> int:
    """Return the minutes (rounded up) before this address may try this account again; 0 when free."""
    now = now or utcnow()
    keys = _throttle_keys(username, ip, scope)
    rows = {
        row.key: row for row in db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys.values())))
    }
    window = timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    pair, address, account = (rows.get(keys[k]) for k in ("pair", "ip", "user"))

    def locked(row) -> bool:
        return row is not None and row.locked_until is not None and row.locked_until > now

    ends = [row.locked_until for row in (pair, address) if locked(row)]
    if locked(account) and pair is not None and pair.first_failure_at > now - window:
        ends.append(account.locked_until)  # this address has failed for this account lately
    if not ends:
        return 0
    seconds = (max(ends) - now).total_seconds()
    return max(1, int(-(-seconds // 60)))


def record_failure(username: str, ip: str | None, now: datetime | None = None, *, scope: str = "") -> None:
    """Count one failed login for the pair, the address and the account; lock each past its limit."""
    now = now or utcnow()
    window = timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    limits = _limits()
    # Counters that have run out go: one per (address, name) tried would otherwise pile up for ever.
    db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.first_failure_at <= now - window,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
    )
    for kind, key in _throttle_keys(username, ip, scope).items():
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
        if row.failures >= limits[kind]:
            row.locked_until = now + window
    db.session.flush()


def clear_failures(username: str, ip: str | None) -> None:
    """Forget the failed logins of this address for this account after it logged in."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == _throttle_keys(username, ip)["pair"]))


def authenticate(username: str, password: str, ip: str | None) -> User | None:
    """Return the user when the credentials are right and the account is enabled, None otherwise.

    Raises LoginThrottled while this address is locked out of this account (or locked out
    altogether), even for the right password. Records the attempt in the audit log either way.
    The work done is the same whether the account exists, has a password yet, or is disabled.
    """
    wait = throttle_wait(username, ip)
    if wait:
        audit("login.throttled", None, target=username[:100], ip=ip)
        raise LoginThrottled(wait)
    user = get_user_by_username(username)
    right = verify_password(user, password)
    if not right or user is None or user.is_disabled:
        record_failure(username, ip)
        audit("login.failed", user, target=username[:100], ip=ip)
        return None
    clear_failures(username, ip)
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


def request_password_reset(email: str, *, ip: str | None = None, language: str | None = None) -> None:
    """Note that someone asked for a reset link for this address; the background sender mails it.

    Writes the same single row whether or not an account uses the address, so neither the answer
    nor its timing tells; a malformed address writes nothing.
    """
    try:
        email = normalise_email(email)
    except ServiceError:
        return
    if email:
        db.session.add(PasswordResetRequest(email=email, ip=ip, language=language))
        db.session.flush()


def send_reset_mails(limit: int = 100) -> int:
    """Turn waiting reset requests into one-time links and outbox mails; return the mails written.

    Each enabled account with the address gets one mail, at most one every five minutes (no
    flooding someone's inbox). The caller commits. Run by the background sender, never in a request.
    """
    from flask_babel import force_locale

    from agora.core.urls import public_url

    ids = db.session.scalars(select(PasswordResetRequest.id).order_by(PasswordResetRequest.id).limit(limit)).all()
    if not ids:
        return 0
    # Deleting is claiming: a second sender running at the same time gets nothing twice.
    claimed = db.session.execute(
        delete(PasswordResetRequest)
        .where(PasswordResetRequest.id.in_(ids))
        .returning(
            PasswordResetRequest.id, PasswordResetRequest.email, PasswordResetRequest.ip, PasswordResetRequest.language
        )
    ).all()
    written = 0
    for _id, email, ip, language in sorted(claimed):
        users = db.session.scalars(select(User).where(User.email == email, User.is_disabled.is_(False))).all()
        recent = utcnow() - timedelta(minutes=5)
        for user in users:
            pending = db.session.scalar(
                select(UserToken.id).where(
                    UserToken.user_id == user.id,
                    UserToken.purpose == "reset",
                    UserToken.used_at.is_(None),
                    UserToken.created_at > recent,
                )
            )
            if pending is not None:
                continue
            raw = issue_token(user, "reset")
            with force_locale(user.language or language or current_app.config["DEFAULT_LANGUAGE"]):
                queue_mail(
                    user.email,
                    str(_l("Réinitialiser votre mot de passe")),
                    str(
                        _l(
                            "Bonjour %(name)s,\n\nPour choisir un nouveau mot de passe pour le compte « %(username)s », "
                            "ouvrez ce lien dans l'heure :\n\n%(url)s\n\nSi vous n'avez rien demandé, ignorez ce message.",
                            name=user.display_name,
                            username=user.username,
                            url=public_url("auth.reset_password", token=raw),
                        )
                    ),
                )
            audit("password.reset_requested", user, target=user.username, ip=ip)
            written += 1
    db.session.flush()
    return written


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
