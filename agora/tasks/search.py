"""What the tasks module gives the search index: tasks (with their checklist) and comments."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from agora.core.registry import Entry, entry_key
from agora.extensions import db
from agora.tasks.models import ChecklistItem, Task, TaskComment


def task_entry(task_id: int, full: bool = True, **_options) -> Entry | None:
    """A task, with its description and checklist (unless full is False: a hit shows its title)."""
    task = db.session.get(Task, task_id)
    if task is None:
        return None
    checklist = (
        " ".join(db.session.scalars(select(ChecklistItem.text).where(ChecklistItem.task_id == task.id))) if full else ""
    )
    return Entry(
        entry_key("tasks.task", task.id),
        "tasks.task",
        "tasks",
        task.space_id,
        task.id,
        task.title,
        f"{task.description}\n{checklist}",
        task.updated_at,
    )


def comment_entry(comment_id: int, **_options) -> Entry | None:
    comment = db.session.get(TaskComment, comment_id)
    if comment is None:
        return None
    task = db.session.get(Task, comment.task_id)
    return Entry(
        entry_key("tasks.comment", comment.id),
        "tasks.comment",
        "tasks",
        comment.space_id,
        comment.id,
        task.title,
        comment.body,
        comment.created_at,
        parent=entry_key("tasks.task", task.id),
    )


def task_url(slug: str, object_id: int, _entry: Entry) -> str:
    return url_for("tasks.show_task", slug=slug, task_id=object_id)


def comment_url(slug: str, _object_id: int, entry: Entry) -> str:
    return url_for("tasks.show_task", slug=slug, task_id=int(entry.parent.split(":")[1])) + "#comments"
