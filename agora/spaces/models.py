"""Spaces, memberships, invitations, news items and the activity feed."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.auth.models import User
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.tenancy import SpaceScoped, membership_in

ROLES = ("admin", "member", "reader")
MODULES = ("forum", "agenda", "documents", "tasks", "polls", "members")
#: The colours a space can take, by name: each is dark enough (4.5:1 at least) next to white,
#: the page and the text the space's colour bar sits between.
SPACE_COLOURS = {
    "#0b5cad": _l("Bleu"),
    "#006b75": _l("Bleu-vert"),
    "#1e6b33": _l("Vert"),
    "#a84300": _l("Orange"),
    "#a4161a": _l("Rouge"),
    "#7a3e9d": _l("Violet"),
    "#7a4a1e": _l("Marron"),
    "#4a5263": _l("Gris"),
}
#: Slugs that would shadow a server page or confuse people reading an address.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "login",
        "logout",
        "static",
        "ical",
        "api",
        "s",
        "search",
        "healthz",
        "join",
        "setup",
        "password",
        "profile",
        "language",
        "agenda",
        "tasks",
        "new",
        "settings",
        "www",
    }
)


class Space(db.Model):
    __tablename__ = "spaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Normally one of SPACE_COLOURS; a space made before the list may keep another.
    colour: Mapped[str] = mapped_column(String(7), default="#0b5cad")
    #: Names from MODULES that are switched on.
    modules: Mapped[list] = mapped_column(JSON, default=lambda: list(MODULES))
    quota_mb: Mapped[int] = mapped_column(default=1024)
    #: Bytes stored by the documents module; kept here so the console needs no scan.
    storage_used: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def role_of(self, user: User | None) -> str | None:
        """Return the user's role in this space, or None for a non-member or anonymous visitor."""
        if user is None or not user.is_authenticated:
            return None
        membership = membership_in(user, self)
        return membership.role if membership else None

    def can_view(self, user: User | None) -> bool:
        """True when the user may read the space: any role, and the space is not archived."""
        return not self.is_archived and self.role_of(user) is not None

    def can_write(self, user: User | None) -> bool:
        """True for admins and members: they create content and edit their own."""
        return not self.is_archived and self.role_of(user) in ("admin", "member")

    def can_manage(self, user: User | None) -> bool:
        """True for the space's admins: members, invitations, settings, moderation."""
        return not self.is_archived and self.role_of(user) == "admin"

    def has_module(self, name: str) -> bool:
        return name in (self.modules or [])

    def __repr__(self) -> str:
        return f"<Space {self.slug}>"


class Membership(SpaceScoped, db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("space_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Start of the previous visit: "what's new" is what happened since then.
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The partner this person belongs to here (centre social, régie...), and their function.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    function: Mapped[str] = mapped_column(String(120), default="")

    space: Mapped[Space] = relationship()
    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation | None] = relationship()  # noqa: F821


class Invitation(SpaceScoped, db.Model):
    """A link that lets people join a space with a role, until it expires or is used up."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The short code typed by hand (spaces.services.invitation_code_hash), for the printed
    #: invitations; None for the mailed ones and those made before codes.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(10))
    #: A note for the admins, e.g. "Affiche du centre social".
    label: Mapped[str] = mapped_column(String(120), default="")
    max_uses: Mapped[int] = mapped_column(default=1)
    uses: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The address the link was mailed to (an invitation from a member import), None for a link
    #: handed out by the admins. Whoever opens the mailed link may accept or decline it.
    email: Mapped[str | None] = mapped_column(String(254))
    #: What the person gets in the space on accepting, besides the role.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    function: Mapped[str] = mapped_column(String(120), default="")

    space: Mapped[Space] = relationship()
    created_by: Mapped[User | None] = relationship()

    def is_usable(self, now: datetime | None = None) -> bool:
        """True while not revoked, not expired and not used up."""
        now = now or utcnow()
        return self.revoked_at is None and self.expires_at > now and self.uses < self.max_uses


class NewsItem(SpaceScoped, db.Model):
    """An announcement by a space admin, shown on the space's home."""

    __tablename__ = "news_items"
    __table_args__ = (Index("ix_news_items_space_id_is_pinned_created_at", "space_id", "is_pinned", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    is_pinned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    space: Mapped[Space] = relationship()
    author: Mapped[User | None] = relationship()

    def can_edit(self, user: User | None) -> bool:
        """News is the space admins' voice: only they edit or delete it."""
        return self.space.can_manage(user)

    can_delete = can_edit


class Activity(SpaceScoped, db.Model):
    """One line of a space's "what's new" feed, written by the service that made the change."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_space_id_created_at", "space_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: What happened, an activity verb of its module in agora/modules.py (e.g. "news"), or "joined".
    verb: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    #: A path inside the space, e.g. "/s/conseil/forum/12"; None when there is nothing to open.
    url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()
