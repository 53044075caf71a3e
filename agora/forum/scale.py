"""Generated forum content for `agora demo --spaces N --scale K` (see agora/scale.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from agora.core.registry import ScaleContext
from agora.extensions import db


def seed_scale(ctx: ScaleContext) -> None:
    """Themes, topics and replies of a generated space, written in bulk."""
    from agora.forum.models import ForumCategory, Post, Topic

    space, writers, rng, now = ctx.space, ctx.writers, ctx.rng, ctx.now
    topics, replies = ctx.want["topics"], ctx.want["replies"]
    categories = []
    for position, name in enumerate(("Vie du quartier", "Projets", "Questions pratiques")):
        category = ForumCategory(space_id=space.id, name=name, position=position)
        db.session.add(category)
        categories.append(category)
    db.session.flush()
    start = now - timedelta(days=365)
    ctx.bulk(
        Topic,
        [
            {
                "space_id": space.id,
                "category_id": rng.choice(categories).id,
                "author_id": rng.choice(writers),
                "title": ctx.sentence()[:150],
                "created_at": start + timedelta(days=n * 365 / topics),
                "last_post_at": start,
                "reply_count": 0,
            }
            for n in range(topics)
        ],
    )
    topic_rows = db.session.execute(
        select(Topic.id, Topic.created_at).where(Topic.space_id == space.id).order_by(Topic.id)
    ).all()
    # Replies spread over the topics, every topic with at least a first post; the first topic has many.
    per_topic = [1] * len(topic_rows)
    for _ in range(replies):
        per_topic[0 if rng.random() < 0.03 else rng.randrange(len(topic_rows))] += 1
    posts = []
    for (topic_id, created), count in zip(topic_rows, per_topic, strict=True):
        for n in range(count):
            body = " ".join(ctx.sentence() for _ in range(rng.randint(1, 4)))
            posts.append(
                {
                    "space_id": space.id,
                    "topic_id": topic_id,
                    "author_id": rng.choice(writers),
                    "body": body,
                    "body_html": ctx.html(body),
                    "is_first": n == 0,
                    "created_at": min(now, created + timedelta(hours=3 * n)),
                }
            )
    ctx.bulk(Post, posts)
    db.session.flush()
    for topic_id, count in zip((t for t, _c in topic_rows), per_topic, strict=True):
        last = db.session.execute(
            select(Post.id, Post.created_at, Post.author_id)
            .where(Post.topic_id == topic_id)
            .order_by(Post.id.desc())
            .limit(1)
        ).one()
        db.session.execute(
            update(Topic)
            .where(Topic.id == topic_id)
            .values(
                reply_count=count - 1, last_post_id=last.id, last_post_at=last.created_at, last_poster_id=last.author_id
            )
        )
