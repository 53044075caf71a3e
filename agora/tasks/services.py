"""Task services: lists, statuses, tasks and their assignees, moves, checklist, comments, late tasks.

Each takes the space first, looks objects up inside it only, flushes and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from agora.auth.models import User
from agora.core.events import after_commit
from agora.core.richtext import render_markdown
from agora.core.services import ServiceError, one_line
from agora.core.time import utcnow
from agora.extensions import db
from agora.notifications import services as notifications
from agora.spaces.models import Membership, Space
from agora.spaces.services import record_activity
from agora.tasks.models import PRIORITIES, ChecklistItem, Task, TaskAssignee, TaskComment, TaskList, TaskStatus

DEFAULT_STATUSES = (_l("À faire"), _l("En cours"), _l("Fait"))


def today(zone: str | None = None) -> date:
    """Today's date in the server's default zone (a function, so tests can freeze it)."""
    return utcnow().astimezone(ZoneInfo(zone or current_app.config["DEFAULT_TIMEZONE"])).date()


def statuses(space: Space) -> list[TaskStatus]:
    """The space's statuses in board order, creating the three defaults the first time."""
    return statuses_and_whether_created(space)[0]


def statuses_and_whether_created(space: Space) -> tuple[list[TaskStatus], bool]:
    """The space's statuses in board order, and True when this call created the three defaults."""
    found = list(
        db.session.scalars(select(TaskStatus).where(TaskStatus.space_id == space.id).order_by(TaskStatus.position))
    )
    if found:
        return found, False
    found = [TaskStatus(space_id=space.id, name=str(name), position=n) for n, name in enumerate(DEFAULT_STATUSES)]
    db.session.add_all(found)
    db.session.flush()
    return found, True


def done_status_id(all_statuses: list[TaskStatus]) -> int:
    return all_statuses[-1].id


def is_late(task: Task, done_id: int, on: date | None = None) -> bool:
    """A task is late when its due date has passed and it is not done."""
    return task.due_on is not None and task.status_id != done_id and task.due_on < (on or today())


def lists(space: Space) -> list[TaskList]:
    return list(
        db.session.scalars(
            select(TaskList).where(TaskList.space_id == space.id).order_by(TaskList.position, TaskList.name)
        )
    )


def get_list(space: Space, list_id: int | None) -> TaskList | None:
    if not list_id:
        return None
    return db.session.scalar(select(TaskList).where(TaskList.id == list_id, TaskList.space_id == space.id))


def get_status(space: Space, status_id: int | None) -> TaskStatus | None:
    if not status_id:
        return None
    return db.session.scalar(select(TaskStatus).where(TaskStatus.id == status_id, TaskStatus.space_id == space.id))


def save_list(space: Space, *, name: str, description: str) -> TaskList:
    name = one_line(name)[:120]
    if not name:
        raise ServiceError(_l("Donnez un nom à la liste."), field="name")
    if db.session.scalar(select(TaskList.id).where(TaskList.space_id == space.id, TaskList.name == name)):
        raise ServiceError(_l("Une liste porte déjà ce nom."), field="name", status=409)
    position = db.session.scalar(
        select(func.coalesce(func.max(TaskList.position), 0)).where(TaskList.space_id == space.id)
    )
    task_list = TaskList(
        space_id=space.id, name=name, description=(description or "").strip()[:2000], position=position + 1
    )
    db.session.add(task_list)
    db.session.flush()
    return task_list


def save_status(space: Space, *, name: str) -> TaskStatus:
    """Add a status before the last one (which stays "done")."""
    name = one_line(name)[:60]
    if not name:
        raise ServiceError(_l("Donnez un nom au statut."), field="name")
    existing = statuses(space)
    if any(s.name.lower() == name.lower() for s in existing):
        raise ServiceError(_l("Un statut porte déjà ce nom."), field="name", status=409)
    existing[-1].position = len(existing)
    status = TaskStatus(space_id=space.id, name=name, position=len(existing) - 1)
    db.session.add(status)
    db.session.flush()
    return status


def rename_status(space: Space, status: TaskStatus, name: str) -> None:
    name = one_line(name)[:60]
    if not name:
        raise ServiceError(_l("Donnez un nom au statut."), field="name")
    if any(s.id != status.id and s.name.lower() == name.lower() for s in statuses(space)):
        raise ServiceError(_l("Un statut porte déjà ce nom."), field="name", status=409)
    status.name = name


def delete_status(space: Space, status: TaskStatus) -> None:
    """Remove an unused status; the first and the last ("done") always stay."""
    existing = statuses(space)
    if status.id in (existing[0].id, existing[-1].id):
        raise ServiceError(_l("Le premier et le dernier statut sont toujours là."), status=409)
    if db.session.scalar(select(func.count()).select_from(Task).where(Task.status_id == status.id)):
        raise ServiceError(_l("Des tâches ont ce statut : déplacez-les d'abord."), status=409)
    db.session.delete(status)


def get_task(space: Space, task_id: int) -> Task | None:
    return db.session.scalar(
        select(Task)
        .where(Task.id == task_id, Task.space_id == space.id)
        .options(selectinload(Task.assignees).selectinload(TaskAssignee.user))
    )


@dataclass
class TaskData:
    title: str
    list_id: int | None
    status_id: int | None = None
    description: str = ""
    start_on: date | None = None
    due_on: date | None = None
    priority: str = "normal"
    progress: int = 0
    assignee_ids: tuple[int, ...] = ()


def _members(space: Space, user_ids: set[int]) -> list[User]:
    if not user_ids:
        return []
    found = list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.space_id == space.id,
                User.id.in_(user_ids),
                Membership.role.in_(("admin", "member", "reader")),
            )
        )
    )
    if len(found) != len(user_ids):
        raise ServiceError(_l("On ne peut confier une tâche qu'à un membre de l'espace."), field="assignees")
    return found


def save_task(space: Space, task: Task | None, data: TaskData, *, actor: User) -> Task:
    """Create (task None) or change a task; the first task of a space without a list makes a list
    « Tâches ». Raises ServiceError for bad input; notifies new assignees."""
    title = one_line(data.title)[:200]
    if not title:
        raise ServiceError(_l("Donnez un titre à la tâche."), field="title")
    task_list = get_list(space, data.list_id)
    if task_list is None and data.list_id is None and not lists(space):
        # The first task of a space opens its first list, so that no one meets a dead end.
        task_list = save_list(space, name=str(_l("Tâches")), description="")
    if task_list is None:
        raise ServiceError(_l("Choisissez une liste de cet espace."), field="list")
    all_statuses = statuses(space)
    status = get_status(space, data.status_id) if data.status_id else all_statuses[0]
    if status is None:
        raise ServiceError(_l("Ce statut n'existe pas dans cet espace."), field="status")
    if data.start_on and data.due_on and data.due_on < data.start_on:
        raise ServiceError(_l("L'échéance doit être après le début."), field="due_on")
    if not 0 <= data.progress <= 100:
        raise ServiceError(_l("L'avancement va de 0 à 100 %."), field="progress")
    if data.priority not in PRIORITIES:
        raise ServiceError(_l("Cette priorité n'existe pas."), field="priority")
    assignees = _members(space, set(data.assignee_ids))
    creating = task is None
    if creating:
        task = Task(space_id=space.id, created_by_id=actor.id)
        db.session.add(task)
    old_due, old_assignees = task.due_on, set() if creating else task.assignee_ids
    task.title, task.list_id, task.status_id = title, task_list.id, status.id
    task.description = (data.description or "").strip()[:20000]
    task.description_html = str(render_markdown(task.description))
    task.start_on, task.due_on, task.priority, task.progress = data.start_on, data.due_on, data.priority, data.progress
    if status.id == done_status_id(all_statuses):
        task.progress = 100
    task.updated_at = utcnow()
    wanted = {u.id for u in assignees}
    task.assignees = [a for a in task.assignees if a.user_id in wanted] + [
        TaskAssignee(space_id=space.id, user_id=uid) for uid in wanted - old_assignees
    ]
    db.session.flush()
    after_commit("tasks.task", task.id, space.id, "created" if creating else "updated")
    if creating:
        record_activity(space, actor, "tasks.task", task.title, f"/s/{space.slug}/tasks/{task.id}")
    newly = [u for u in assignees if u.id not in old_assignees]
    _notify(space, task, actor, "tasks.assigned", newly, task.description)
    if not creating and old_due != task.due_on:
        _notify(space, task, actor, "tasks.due", [u for u in assignees if u.id in old_assignees], "")
    return task


def move_task(space: Space, task: Task, status_id: int) -> None:
    """Put a task in another status (a column of the board)."""
    status = get_status(space, status_id)
    if status is None:
        raise ServiceError(_l("Ce statut n'existe pas dans cet espace."), field="status")
    task.status_id = status.id
    if status.id == done_status_id(statuses(space)):
        task.progress = 100
    task.updated_at = utcnow()


def add_checklist_item(space: Space, task: Task, text: str) -> ChecklistItem:
    text = one_line(text)[:300]
    if not text:
        raise ServiceError(_l("Écrivez l'élément à ajouter."), field="text")
    position = db.session.scalar(
        select(func.count()).select_from(ChecklistItem).where(ChecklistItem.task_id == task.id)
    )
    item = ChecklistItem(space_id=space.id, task_id=task.id, text=text, position=position)
    db.session.add(item)
    db.session.flush()
    return item


def toggle_checklist_item(space: Space, item: ChecklistItem) -> None:
    """Tick an item of a task's checklist (found through `get_checklist_item`), or untick it."""
    item.is_done = not item.is_done
    db.session.flush()


def delete_task(space: Space, task: Task) -> None:
    """Delete a task of space with its comments; the registry's references go with it, search forgets them."""
    for comment_id in db.session.scalars(select(TaskComment.id).where(TaskComment.task_id == task.id)):
        after_commit("tasks.comment", comment_id, space.id, "deleted")
    after_commit("tasks.task", task.id, space.id, "deleted")
    db.session.delete(task)
    db.session.flush()


def get_checklist_item(space: Space, task: Task, item_id: int) -> ChecklistItem | None:
    return db.session.scalar(
        select(ChecklistItem).where(
            ChecklistItem.id == item_id, ChecklistItem.task_id == task.id, ChecklistItem.space_id == space.id
        )
    )


def add_comment(space: Space, task: Task, author: User, body: str, *, spoken: bool = False) -> TaskComment:
    """Comment on a task; its assignees are told. Raises ServiceError.

    A `spoken` comment (a voice message is attached to it) may have no text."""
    body = (body or "").strip()
    if not body and not spoken:
        raise ServiceError(_l("Le commentaire est vide."), field="body")
    if len(body) > 10_000:
        raise ServiceError(_l("Le commentaire est trop long."), field="body")
    comment = TaskComment(
        space_id=space.id, task_id=task.id, author_id=author.id, body=body, body_html=str(render_markdown(body))
    )
    db.session.add(comment)
    db.session.flush()
    after_commit("tasks.comment", comment.id, space.id, "created")
    _notify(space, task, author, "tasks.comment", [a.user for a in task.assignees], body)
    return comment


def _notify(space: Space, task: Task, actor: User, verb: str, people: list[User], excerpt: str) -> None:
    notifications.notify(
        space,
        "task",
        verb,
        people,
        actor=actor,
        title=task.title,
        url=url_for("tasks.show_task", slug=space.slug, task_id=task.id),
        group_key=f"task:{task.id}",
        excerpt=excerpt,
    )


def tasks_query(space_ids: list[int]):
    return (
        select(Task)
        .where(Task.space_id.in_(space_ids))
        .options(
            selectinload(Task.assignees).selectinload(TaskAssignee.user),
            selectinload(Task.status),
            selectinload(Task.task_list),
            selectinload(Task.space),
        )
    )


def _assigned_open(stmt, user: User, space_ids: list[int]):
    done = _done_ids(space_ids)
    return stmt.join(TaskAssignee, TaskAssignee.task_id == Task.id).where(
        Task.space_id.in_(space_ids), TaskAssignee.user_id == user.id, Task.status_id.not_in(done or {0})
    )


def my_open_tasks(user: User, space_ids: list[int], limit: int | None = None) -> list[Task]:
    """Tasks assigned to the person in those spaces that are not done, soonest due first (at most `limit`)."""
    if not space_ids:
        return []
    stmt = _assigned_open(tasks_query(space_ids), user, space_ids)
    if limit is not None:
        stmt = stmt.order_by(Task.due_on.is_(None), Task.due_on, Task.title, Task.id).limit(limit)
    return sorted(db.session.scalars(stmt), key=lambda t: (t.due_on or date.max, t.title))


def my_open_task_rows(user: User, space_id: int, limit: int):
    """The first `limit` of my_open_tasks in one space, as (id, title, due_on) rows: two queries
    where the tasks with their lists, statuses and assignees took six."""
    stmt = _assigned_open(select(Task.id, Task.title, Task.due_on), user, [space_id])
    return db.session.execute(stmt.order_by(Task.due_on.is_(None), Task.due_on, Task.title, Task.id).limit(limit)).all()


def _done_ids(space_ids: list[int]) -> set[int]:
    """The "done" status of each space: its highest position."""
    rows = db.session.execute(
        select(TaskStatus.space_id, TaskStatus.id, TaskStatus.position).where(TaskStatus.space_id.in_(space_ids))
    ).all()
    best: dict[int, tuple[int, int]] = {}
    for space_id, status_id, position in rows:
        if space_id not in best or position > best[space_id][0]:
            best[space_id] = (position, status_id)
    return {status_id for _pos, status_id in best.values()}
