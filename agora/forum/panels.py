"""What the forum shows on other pages: a member's latest topics on their card."""

from __future__ import annotations

from sqlalchemy import select

from agora.extensions import db
from agora.forum.models import Topic

SHOWN = 5


def member_panel(space, user) -> dict | None:
    """The member's latest topics in this space."""
    topics = db.session.scalars(
        select(Topic)
        .where(Topic.space_id == space.id, Topic.author_id == user.id)
        .order_by(Topic.created_at.desc(), Topic.id.desc())
        .limit(SHOWN)
    ).all()
    return {"topics": topics} if topics else None
