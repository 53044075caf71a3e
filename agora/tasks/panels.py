"""What the tasks show on other pages: my open tasks on a space's home, a member's tasks on
their card."""

from __future__ import annotations

from sqlalchemy import select

from agora.extensions import db
from agora.tasks.models import Task, TaskAssignee
from agora.tasks.services import my_open_task_rows, today

SHOWN = 5


def home_panel(space, user) -> dict | None:
    """The tasks given to me here that are not done, soonest due first."""
    tasks = my_open_task_rows(user, space.id, SHOWN)
    return {"my_tasks": tasks, "today": today()} if tasks else None


def member_panel(space, user) -> dict | None:
    """The tasks given to the member in this space."""
    tasks = db.session.scalars(
        select(Task)
        .join(TaskAssignee, TaskAssignee.task_id == Task.id)
        .where(Task.space_id == space.id, TaskAssignee.user_id == user.id)
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
        .limit(SHOWN)
    ).all()
    return {"tasks": tasks} if tasks else None
