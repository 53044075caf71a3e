"""Forum: categories, topics, posts, read positions, reactions and follows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.auth.models import User
from agora.core.richtext import RENDERER_VERSION
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.tenancy import SpaceScoped

TITLE_MAX = 200
BODY_MAX = 50_000


class ForumCategory(SpaceScoped, db.Model):
    """A theme of the space's forum, managed by its admins."""

    __tablename__ = "forum_categories"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    colour: Mapped[str] = mapped_column(String(7), default="#0b5cad")
    position: Mapped[int] = mapped_column(default=0)


class Topic(SpaceScoped, db.Model):
    __tablename__ = "forum_topics"
    __table_args__ = (
        Index("ix_forum_topics_space_id_is_pinned_last_post_at", "space_id", "is_pinned", "last_post_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("forum_categories.id", ondelete="SET NULL"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    is_pinned: Mapped[bool] = mapped_column(default=False)
    is_locked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Kept with each reply so the list needs no aggregate over posts.
    reply_count: Mapped[int] = mapped_column(default=0)
    last_post_id: Mapped[int | None] = mapped_column()
    last_post_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_poster_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    space: Mapped[Space] = relationship()
    category: Mapped[ForumCategory | None] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    last_poster: Mapped[User | None] = relationship(foreign_keys=[last_poster_id])

    def can_reply(self, user) -> bool:
        """Members and admins reply; nobody replies to a locked topic."""
        return self.space.can_write(user) and not self.is_locked

    def can_moderate(self, user) -> bool:
        """Pin, lock, move: space admins."""
        return self.space.can_manage(user)


class Post(SpaceScoped, db.Model):
    __tablename__ = "forum_posts"
    __table_args__ = (
        Index("ix_forum_posts_topic_id_id", "topic_id", "id"),
        Index("ix_forum_posts_body_html_version", "body_html_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The Markdown as written; `body_html` is its sanitised rendering, made once per change.
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    #: The RENDERER_VERSION that wrote body_html (0: written before versions were kept).
    body_html_version: Mapped[int] = mapped_column(default=RENDERER_VERSION, server_default="0")
    is_first: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    topic: Mapped[Topic] = relationship()
    author: Mapped[User | None] = relationship()

    def can_edit(self, user) -> bool:
        """The author (while still allowed to write) or a space admin."""
        space = self.topic.space
        if space.can_manage(user):
            return True
        return space.can_write(user) and user.id == self.author_id and not self.topic.is_locked

    can_delete = can_edit


class TopicRead(SpaceScoped, db.Model):
    """How far a person has read a topic: the last post id they were shown."""

    __tablename__ = "forum_reads"
    __table_args__ = (UniqueConstraint("user_id", "topic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"), index=True)
    last_read_post_id: Mapped[int] = mapped_column(default=0)


class Reaction(SpaceScoped, db.Model):
    """One "I agree" per person per post."""

    __tablename__ = "forum_reactions"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class TopicFollow(SpaceScoped, db.Model):
    """A person who hears about new replies in a topic."""

    __tablename__ = "forum_follows"
    __table_args__ = (UniqueConstraint("topic_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
