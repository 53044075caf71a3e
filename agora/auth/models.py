"""Accounts, logins, one-time tokens, login throttling, reset requests and the audit log."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: As typed at creation; `username_key` (lower case) makes it unique without regard to case.
    username: Mapped[str] = mapped_column(String(40))
    username_key: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    #: Optional: many habitants have none. Lower-cased; not unique (a family may share one).
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    #: None until the person chooses a password through a setup link.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_site_admin: Mapped[bool] = mapped_column(default=False)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone: Mapped[str | None] = mapped_column(String(40))
    presentation: Mapped[str] = mapped_column(Text, default="")
    #: File name of the photo under instance/files/avatars/, None for initials on a colour.
    avatar: Mapped[str | None] = mapped_column(String(80))
    #: Who sees each directory field: {"phone": "members" | "admins" | "nobody", ...};
    #: missing keys take agora.members.services.DEFAULT_PRIVACY.
    privacy: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Show the due dates of my tasks in my "all my spaces" calendar feed.
    tasks_in_feed: Mapped[bool] = mapped_column(default=False)
    #: « Mode simple »: bigger text, an icon with every label, one column (static/agora.css, .simple-mode).
    simple_mode: Mapped[bool] = mapped_column(default=False)

    memberships: Mapped[list[Membership]] = relationship(  # noqa: F821
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_active(self) -> bool:
        return not self.is_disabled

    def get_id(self) -> str | None:
        """The secret of the login this user object was loaded through (Flask-Login keeps it in the cookies)."""
        return self.__dict__.get("_login_secret")

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserToken(db.Model):
    """A single-use secret link: password setup for a new account, or a password reset."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the secret; the secret itself is only ever shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginSession(db.Model):
    """One login on one device: its secret (hashed) is what the session and remember-me cookies hold.

    Deleting the row ends that login at once, wherever its cookies were copied.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the secret held by the cookies.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Written at most once an hour: reading pages must not write on every request.
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: A short description of the device, from its browser's User-Agent ("Firefox, Linux").
    device: Mapped[str] = mapped_column(String(80), default="")
    remember: Mapped[bool] = mapped_column(default=False)


class PasswordResetRequest(db.Model):
    """A reset asked for an address, turned into mails by the background sender.

    The request only writes this row, whether or not an account uses the address: the answer
    takes the same time either way.
    """

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    language: Mapped[str | None] = mapped_column(String(5))


class LoginThrottle(db.Model):
    """Failed logins per key, shared by every server worker.

    Keys: "pair:<address> <name>" (one account from one address), "ip:<address>", "user:<name>".
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(db.Model):
    """Who did what that matters for security, kept for the hosting admin."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    #: Kept as text so the entry survives the deletion of the space or the account it names.
    space_slug: Mapped[str | None] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))

    actor: Mapped[User | None] = relationship()
