"""Polls, their options, who took part, and named votes.

Anonymous polls keep no ballot at all: a vote adds one to counters on the options, and a
`Participation` row (poll, person) only says that the person has voted. Nothing in the database
links a person to a choice, not even for someone reading the tables, their system columns or the
SQLite files: each ballot rewrites every option of the poll, and the write-ahead log is emptied
after it (see services.erase_ballot_traces). Named polls keep one `Vote` row per chosen option,
with the voter.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.auth.models import User
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.tenancy import SpaceScoped

KINDS = ("single", "multiple", "dates")
#: Answers to a proposed date: yes, if need be, no.
ANSWERS = ("yes", "maybe", "no")


class Poll(SpaceScoped, db.Model):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="single")
    question: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    #: For multiple choice: at most this many options (None: as many as there are).
    max_choices: Mapped[int | None] = mapped_column()
    #: Length of each proposed date, for date polls (and the event made from the winner).
    slot_minutes: Mapped[int] = mapped_column(default=120)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when the author or an admin closes the poll before its closing time.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    readers_vote: Mapped[bool] = mapped_column(default=False)
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    results_live: Mapped[bool] = mapped_column(default=True)
    allow_change: Mapped[bool] = mapped_column(default=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    space: Mapped[Space] = relationship()
    created_by: Mapped[User | None] = relationship()

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.closed_at is None and self.opens_at <= now and (self.closes_at is None or now < self.closes_at)

    def is_closed(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.closed_at is not None or (self.closes_at is not None and now >= self.closes_at)

    def can_vote(self, user) -> bool:
        role = self.space.role_of(user)
        return not self.space.is_archived and (role in ("admin", "member") or (role == "reader" and self.readers_vote))

    def can_manage(self, user) -> bool:
        """Close early, edit, delete, make the event: its author while they may write, and space admins."""
        return self.space.can_manage(user) or (self.space.can_write(user) and user.id == self.created_by_id)

    def results_visible(self, now: datetime | None = None) -> bool:
        return self.results_live or self.is_closed(now)


class PollOption(SpaceScoped, db.Model):
    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(200))
    #: For date polls: the proposed start (the end is slot_minutes later).
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Counters of anonymous polls ("yes" is the count of choice polls).
    yes_count: Mapped[int] = mapped_column(default=0)
    maybe_count: Mapped[int] = mapped_column(default=0)
    no_count: Mapped[int] = mapped_column(default=0)


class Participation(SpaceScoped, db.Model):
    """That a person has voted in a poll: one row per person, never what they chose."""

    __tablename__ = "poll_participations"
    __table_args__ = (UniqueConstraint("poll_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    #: Kept when the account goes, so closed results never change.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class Vote(SpaceScoped, db.Model):
    """A named ballot's answer for one option (named polls only)."""

    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("option_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    answer: Mapped[str] = mapped_column(String(5), default="yes")

    user: Mapped[User | None] = relationship()
