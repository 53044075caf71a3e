"""Agenda: events (with RFC 5545 recurrence and per-occurrence overrides), categories, feed tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.auth.models import User
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.tenancy import SpaceScoped


class EventCategory(SpaceScoped, db.Model):
    __tablename__ = "event_categories"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    colour: Mapped[str] = mapped_column(String(7), default="#0b5cad")


class Resource(SpaceScoped, db.Model):
    """Something events book: a room, a video projector."""

    __tablename__ = "resources"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class Booking(SpaceScoped, db.Model):
    """An event (or series: every date of it) holding a resource."""

    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("event_id", "resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)

    resource: Mapped[Resource] = relationship()


class Event(SpaceScoped, db.Model):
    """An event, a recurring series, or (parent_id set) the changed occurrence of a series."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("space_id", "uid", "recurrence_id"),
        Index("ix_events_space_id_starts_at", "space_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable iCalendar UID, shared by a series and its overrides; kept from imported files.
    uid: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    #: For an override: the original start (UTC) of the occurrence it replaces.
    recurrence_id: Mapped[datetime | None] = mapped_column(UTCDateTime)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("event_categories.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    #: IANA zone in which the event's wall-clock times (and its recurrence) are defined.
    tz: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    all_day: Mapped[bool] = mapped_column(default=False)
    #: UTC instants; for all-day events, midnight in `tz` of the first day and of the day after the last.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: RRULE value (e.g. "FREQ=WEEKLY;BYDAY=TU;COUNT=10"), None for a single event.
    rrule: Mapped[str | None] = mapped_column(String(300))
    #: Cancelled occurrences of a series: their original starts, as UTC ISO strings.
    exdates: Mapped[list] = mapped_column(JSON, default=list)
    #: Extra dates of a series or event (iCalendar RDATE): their starts, as UTC ISO strings.
    rdates: Mapped[list] = mapped_column(JSON, default=list)
    #: Last instant any occurrence may start, for window queries (None: the series never ends).
    series_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    space: Mapped[Space] = relationship()
    category: Mapped[EventCategory | None] = relationship()
    author: Mapped[User | None] = relationship()
    bookings: Mapped[list[Booking]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    def can_edit(self, user) -> bool:
        """The author (while allowed to write) or a space admin."""
        if self.space.can_manage(user):
            return True
        return self.space.can_write(user) and user.id == self.author_id

    can_delete = can_edit


class IcalToken(db.Model):
    """A private subscription address: for one space, or (space_id None) for all my spaces."""

    __tablename__ = "ical_tokens"
    __table_args__ = (UniqueConstraint("user_id", "space_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the secret in the address; the secret is shown when made, then never again.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    space: Mapped[Space | None] = relationship()
