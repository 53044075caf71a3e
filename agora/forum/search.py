"""What the forum gives the search index: topics (with their first message) and replies."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agora.core.registry import Entry, entry_key
from agora.extensions import db
from agora.forum.models import Post, Topic


def topic_entry(topic_id: int, **_options) -> Entry | None:
    topic = db.session.get(Topic, topic_id)
    if topic is None:
        return None
    first = db.session.scalar(select(Post).where(Post.topic_id == topic.id, Post.is_first.is_(True)))
    return Entry(
        entry_key("forum.topic", topic.id),
        "forum.topic",
        "forum",
        topic.space_id,
        topic.id,
        topic.title,
        first.body if first else "",
        topic.created_at,
    )


def post_entry(post_id: int, **_options) -> Entry | None:
    post = db.session.get(Post, post_id)
    if post is None or post.is_first:  # a topic's first post is indexed with its topic
        return None
    return Entry(
        entry_key("forum.post", post.id),
        "forum.post",
        "forum",
        post.space_id,
        post.id,
        post.topic.title,
        post.body,
        post.created_at,
    )


def post_related(post_id: int) -> list[tuple[str, int]]:
    """A topic's first post is indexed with its topic: a change to it refreshes the topic."""
    post = db.session.get(Post, post_id)
    return [("forum.topic", post.topic_id)] if post is not None and post.is_first else []


def topic_url(slug: str, object_id: int, _entry: Entry) -> str:
    return url_for("forum.show_topic", slug=slug, topic_id=object_id)


def post_url(slug: str, object_id: int, _entry: Entry) -> str:
    return url_for("forum.show_post", slug=slug, post_id=object_id)


def replies_only():
    return Post.is_first.is_(False)


def post_preload() -> tuple:
    return (selectinload(Post.topic),)
