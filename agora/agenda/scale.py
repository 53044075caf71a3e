"""Generated events for `agora demo --spaces N --scale K` (see agora/scale.py)."""

from __future__ import annotations

from datetime import timedelta

from agora.core.registry import ScaleContext


def seed_scale(ctx: ScaleContext) -> None:
    """Events of a generated space, a fifth of them weekly series."""
    from agora.agenda.models import Event

    space, writers, rng, now = ctx.space, ctx.writers, ctx.rng, ctx.now
    count = ctx.want["events"]
    rows = []
    for n in range(count):
        # The first two start next week whatever the size: even a small space has a series and an event to show.
        offset = n + 7 if n < 2 else rng.randint(-180, 180)
        day = (now + timedelta(days=offset)).replace(hour=rng.choice((8, 9, 13, 16, 17)), minute=0, second=0)
        repeating = n % 5 == 0
        weeks = rng.randint(4, 30)
        description = ctx.sentence()
        rows.append(
            {
                "space_id": space.id,
                "uid": f"bench-{space.id}-{n}@agora",
                "author_id": rng.choice(writers),
                "title": ctx.sentence()[:80],
                "description": description,
                "description_html": ctx.html(description),
                "location": rng.choice(ctx.places),
                "url": "",
                "tz": "Europe/Paris",
                "all_day": False,
                "starts_at": day,
                "ends_at": day + timedelta(hours=2),
                "rrule": f"FREQ=WEEKLY;COUNT={weeks}" if repeating else None,
                "exdates": [],
                "series_until": day + timedelta(weeks=weeks - 1) if repeating else None,
                "sequence": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    ctx.bulk(Event, rows)
