"""Task lists, statuses, tasks with assignees, checklist items and comments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.auth.models import User
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.tenancy import SpaceScoped

PRIORITIES = ("low", "normal", "high")


class TaskList(SpaceScoped, db.Model):
    __tablename__ = "task_lists"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)


class TaskStatus(SpaceScoped, db.Model):
    """A column of the board; tasks in the last status (highest position) count as done."""

    __tablename__ = "task_statuses"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)


class Task(SpaceScoped, db.Model):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_space_id_due_on", "space_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("task_lists.id", ondelete="CASCADE"), index=True)
    status_id: Mapped[int] = mapped_column(ForeignKey("task_statuses.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    start_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    progress: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    space: Mapped[Space] = relationship()
    task_list: Mapped[TaskList] = relationship()
    status: Mapped[TaskStatus] = relationship()
    assignees: Mapped[list[TaskAssignee]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @property
    def assignee_ids(self) -> set[int]:
        return {a.user_id for a in self.assignees}

    def can_edit(self, user) -> bool:
        """Its creator, its assignees (while they may write) and the space's admins."""
        if self.space.can_manage(user):
            return True
        return self.space.can_write(user) and (user.id == self.created_by_id or user.id in self.assignee_ids)

    def can_delete(self, user) -> bool:
        return self.space.can_manage(user) or (self.space.can_write(user) and user.id == self.created_by_id)


class TaskAssignee(SpaceScoped, db.Model):
    __tablename__ = "task_assignees"
    __table_args__ = (UniqueConstraint("task_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship()


class ChecklistItem(SpaceScoped, db.Model):
    __tablename__ = "task_checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(300))
    is_done: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)


class TaskComment(SpaceScoped, db.Model):
    __tablename__ = "task_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship()
