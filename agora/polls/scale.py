"""Generated polls for `agora demo --spaces N --scale K` (see agora/scale.py)."""

from __future__ import annotations

from datetime import timedelta

from agora.core.registry import ScaleContext
from agora.extensions import db


def seed_scale(ctx: ScaleContext) -> None:
    """Polls of a generated space, open and closed."""
    from agora.polls.models import Poll, PollOption

    space, writers, rng, now = ctx.space, ctx.writers, ctx.rng, ctx.now
    count = ctx.want["polls"]
    for n in range(count):
        description = ctx.sentence()
        poll = Poll(
            space_id=space.id,
            kind="single",
            question=f"{rng.choice(ctx.subjects).capitalize()} : quel jour ?",
            description=description,
            description_html=ctx.html(description),
            slot_minutes=60,
            opens_at=now - timedelta(days=10 * n + 1),
            closes_at=now + timedelta(days=14 - 10 * n),
            readers_vote=True,
            is_anonymous=n % 2 == 0,
            results_live=True,
            allow_change=True,
            created_by_id=rng.choice(writers),
            created_at=now,
        )
        db.session.add(poll)
        db.session.flush()
        db.session.add_all(
            PollOption(space_id=space.id, poll_id=poll.id, position=p, label=label, yes_count=rng.randint(0, 12))
            for p, label in enumerate(("Mardi soir", "Mercredi après-midi", "Samedi matin"))
        )
