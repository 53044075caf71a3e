"""Generated tasks for `agora demo --spaces N --scale K` (see agora/scale.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from agora.core.registry import ScaleContext
from agora.extensions import db


def seed_scale(ctx: ScaleContext) -> None:
    """Task lists and tasks of a generated space, most of them assigned."""
    from agora.tasks import services as tasks
    from agora.tasks.models import Task, TaskAssignee, TaskList

    space, writers, rng, now = ctx.space, ctx.writers, ctx.rng, ctx.now
    count, members = ctx.want["tasks"], ctx.members
    statuses = tasks.statuses(space)
    lists = []
    for position, name in enumerate(("Fête de quartier", "Jardin partagé", "Suivi des demandes")):
        task_list = TaskList(space_id=space.id, name=name, description="", position=position)
        db.session.add(task_list)
        lists.append(task_list)
    db.session.flush()
    rows = []
    for n in range(count):
        description = ctx.sentence()
        due = (now + timedelta(days=rng.randint(-60, 120))).date() if rng.random() < 0.7 else None
        status = statuses[n] if n < len(statuses) else rng.choice(statuses)  # no empty column, even when small
        rows.append(
            {
                "space_id": space.id,
                "list_id": rng.choice(lists).id,
                "status_id": status.id,
                "title": ctx.sentence()[:120],
                "description": description,
                "description_html": ctx.html(description),
                "due_on": due,
                "priority": rng.choice(("low", "normal", "normal", "high")),
                "progress": rng.choice((0, 0, 25, 50, 100)),
                "created_by_id": rng.choice(writers),
                "created_at": now,
                "updated_at": now,
            }
        )
    ctx.bulk(Task, rows)
    task_ids = db.session.scalars(select(Task.id).where(Task.space_id == space.id)).all()
    ctx.bulk(
        TaskAssignee,
        [
            {"space_id": space.id, "task_id": task_id, "user_id": rng.choice(members)}
            for task_id in task_ids
            if rng.random() < 0.8
        ],
    )
