"""Notification rows (one per person and thing that happened) and delivery preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.tenancy import SpaceScoped

#: How: a mail at once (bursts grouped), in the daily or weekly digest, or only in the bell.
DELIVERIES = ("now", "daily", "weekly", "none")


class Notification(SpaceScoped, db.Model):
    """Something a person should hear about, shown in the bell and mailed as their preference says."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_group_key_user_id", "group_key", "user_id"),
        Index("ix_notifications_mail_due_at", "mail_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    #: What happened, a notification verb of its module in agora/modules.py (e.g. "forum.reply").
    verb: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(80), default="")
    #: The title of the thing (topic, event, document...), as it was then.
    title: Mapped[str] = mapped_column(String(200))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    #: Path on this server, e.g. /s/conseil/forum/12#post-40.
    url: Mapped[str] = mapped_column(String(300))
    #: Items of one group mailed together: replies of one topic, events of one space...
    group_key: Mapped[str] = mapped_column(String(60))
    #: The agenda event, for the .ics joined to the mail (no foreign key: a deleted event is just left out).
    event_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The delivery chosen when the item was made (from DELIVERIES).
    delivery: Mapped[str] = mapped_column(String(6))
    #: When a mail about it is due; None when no mail is (still) to be written.
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    space = relationship("Space")
    user = relationship("User", foreign_keys=[user_id])


class NotificationPreference(db.Model):
    """A delivery choice for one kind.

    user and space: the person's choice for that space; user without space: the person's choice
    everywhere; space without user: the default a space admin set for the space.
    """

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "space_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    delivery: Mapped[str] = mapped_column(String(6))
