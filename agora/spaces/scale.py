"""Generated news for `agora demo --spaces N --scale K` (see agora/scale.py)."""

from __future__ import annotations

from datetime import timedelta

from agora.core.registry import ScaleContext


def seed_scale(ctx: ScaleContext) -> None:
    """News items of a generated space, the first pinned."""
    from agora.spaces.models import NewsItem

    space, writers, now = ctx.space, ctx.writers, ctx.now
    count = ctx.want["news"]
    ctx.bulk(
        NewsItem,
        [
            {
                "space_id": space.id,
                "author_id": writers[0],
                "title": ctx.sentence()[:200],
                "body": " ".join(ctx.sentence() for _ in range(3)),
                "is_pinned": n == 0,
                "created_at": now - timedelta(days=count - n),
            }
            for n in range(count)
        ],
    )
