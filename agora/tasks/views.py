"""Task pages: list with filters, board, timeline, a task, lists and statuses, my tasks."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, func, select
from wtforms import SelectChoice

from agora.core.forms import apply_service_error, save_form
from agora.core.pagination import paginate
from agora.core.security import recorder_page
from agora.core.services import ServiceError
from agora.core.urls import date_arg, int_arg
from agora.documents import services as documents
from agora.extensions import db
from agora.spaces.models import Membership, Space
from agora.spaces.tenancy import require, space_blueprint
from agora.tasks import services
from agora.tasks.forms import EMPTY_COMMENT, ChecklistForm, CommentForm, NameForm, TaskForm
from agora.tasks.models import ChecklistItem, Task, TaskAssignee, TaskComment

bp = space_blueprint("tasks", __name__, "/tasks")
mine_bp = Blueprint("my_tasks", __name__)

PER_PAGE = 50
PRIORITY_RANK = case((Task.priority == "high", 0), (Task.priority == "normal", 1), else_=2)
SORTS = {
    "due": (Task.due_on.is_(None), Task.due_on, Task.id),
    "priority": (PRIORITY_RANK, Task.due_on.is_(None), Task.due_on, Task.id),
    "title": (Task.title, Task.id),
    "recent": (Task.created_at.desc(), Task.id.desc()),
}


def _context():
    all_statuses, created = services.statuses_and_whether_created(g.space)
    if created and request.method == "GET":
        # Kept, once for the space: otherwise every visit of a space without tasks would write them
        # again (and wait for SQLite's writer) only to roll them back.
        db.session.commit()
    return {
        "space": g.space,
        "statuses": all_statuses,
        "done_id": services.done_status_id(all_statuses),
        "today": services.today(),
        "lists": services.lists(g.space),
    }


@bp.get("/")
def list_tasks():
    """Tasks with filters (list, person, status, due before, mine, late) and a sort."""
    context = _context()
    stmt = services.tasks_query([g.space.id])
    if "list" in request.args:
        task_list = services.get_list(g.space, int_arg("list")) or abort(404)
        stmt = stmt.where(Task.list_id == task_list.id)
    if "status" in request.args:
        status = services.get_status(g.space, int_arg("status")) or abort(404)
        stmt = stmt.where(Task.status_id == status.id)
    person = int_arg("assignee") or (current_user.id if request.args.get("mine") == "1" else None)
    if person:
        stmt = stmt.where(Task.id.in_(select(TaskAssignee.task_id).where(TaskAssignee.user_id == person)))
    if due_before := date_arg("due_before"):
        stmt = stmt.where(Task.due_on <= due_before)
    if request.args.get("late") == "1":
        stmt = stmt.where(Task.due_on < context["today"], Task.status_id != context["done_id"])
    sort = request.args.get("sort", "due")
    stmt = stmt.order_by(*SORTS.get(sort, SORTS["due"]))
    page = paginate(stmt, PER_PAGE)
    return render_template("tasks/list.html", page=page, sort=sort, people=_people(), **context)


def _people():
    from agora.auth.models import User

    return db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.space_id == g.space.id)
        .order_by(User.display_name)
    ).all()


#: Tasks shown per column of the board; the column links to the full list of its status.
BOARD_COLUMN = 40


@bp.get("/board")
def board():
    """A column per status; a task moves with a button (or by dragging it, with JavaScript)."""
    context = _context()
    stmt = services.tasks_query([g.space.id]).order_by(Task.due_on.is_(None), Task.due_on, Task.id)
    task_list = None
    if "list" in request.args:
        task_list = services.get_list(g.space, int_arg("list")) or abort(404)
        stmt = stmt.where(Task.list_id == task_list.id)
    # Each column shows its first BOARD_COLUMN tasks (soonest due first) and links to the rest:
    # a board stays readable, and its cost stays the same however many tasks pile up.
    ranked = stmt.add_columns(
        func.row_number()
        .over(partition_by=Task.status_id, order_by=(Task.due_on.is_(None), Task.due_on, Task.id))
        .label("rank")
    )
    ranked = ranked.subquery()
    shown = select(ranked.c.id).where(ranked.c.rank <= BOARD_COLUMN)
    columns = {s.id: [] for s in context["statuses"]}
    for task in db.session.scalars(
        services.tasks_query([g.space.id])
        .where(Task.id.in_(shown))
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
    ):
        columns.setdefault(task.status_id, []).append(task)
    totals = dict(
        db.session.execute(
            select(Task.status_id, func.count())
            .where(Task.space_id == g.space.id, *([Task.list_id == task_list.id] if task_list else []))
            .group_by(Task.status_id)
        ).all()
    )
    return render_template("tasks/board.html", columns=columns, totals=totals, task_list=task_list, **context)


@bp.get("/timeline")
def timeline():
    """Start–due bars over a few weeks, today marked and late tasks highlighted."""
    context = _context()
    first = date_arg("from") or (context["today"] - timedelta(days=7))
    days = 42
    last = first + timedelta(days=days)
    stmt = services.tasks_query([g.space.id]).where(
        Task.due_on.is_not(None), Task.due_on >= first, (Task.start_on.is_(None)) | (Task.start_on <= last)
    )
    bars = []
    for task in db.session.scalars(stmt.order_by(Task.due_on, Task.id).limit(200)):
        start = max(task.start_on or task.due_on, first)
        end = min(task.due_on, last)
        bars.append(
            {
                "task": task,
                "x": (start - first).days * 100 / days,
                "width": max(((end - start).days + 1) * 100 / days, 100 / days),
                "late": services.is_late(task, context["done_id"], context["today"]),
            }
        )
    today_x = (context["today"] - first).days * 100 / days if first <= context["today"] <= last else None
    return render_template(
        "tasks/timeline.html",
        bars=bars,
        first=first,
        last=last,
        today_x=today_x,
        previous=first - timedelta(days=days),
        following=last,
        **context,
    )


def _form(context: dict, task: Task | None = None) -> TaskForm:
    form = TaskForm(obj=task)
    form.task_list.choices = [SelectChoice(lst.id, lst.name) for lst in context["lists"]]
    form.status.choices = [SelectChoice(s.id, s.name) for s in context["statuses"]]
    form.assignees.choices = [SelectChoice(u.id, u.display_name) for u in _people()]
    if request.method == "GET":
        if task is not None:
            form.task_list.data, form.status.data = task.list_id, task.status_id
            form.assignees.data = sorted(task.assignee_ids)
        else:
            form.task_list.data = int_arg("list") or (context["lists"][0].id if context["lists"] else 0)
    return form


def _data(form: TaskForm) -> services.TaskData:
    return services.TaskData(
        title=form.title.data or "",
        list_id=form.task_list.data or None,
        status_id=form.status.data or None,
        description=form.description.data or "",
        start_on=form.start_on.data,
        due_on=form.due_on.data,
        priority=form.priority.data,
        progress=form.progress.data if form.progress.data is not None else 0,
        assignee_ids=tuple(a for a in (form.assignees.data or []) if a),
    )


@bp.route("/new", methods=["GET", "POST"])
def new_task():
    """Create a task (members and admins)."""
    require(g.space.can_write(current_user))
    context = _context()
    form = _form(context)
    return save_form(
        form,
        lambda: _save_with_attachments(None, form),
        message=_("La tâche est créée."),
        done=lambda task: url_for("tasks.show_task", task_id=task.id),
        render=lambda: render_template("tasks/form.html", form=form, task=None, **context),
    )


def _save_with_attachments(task: Task | None, form: TaskForm) -> Task:
    saved = services.save_task(g.space, task, _data(form), actor=current_user)
    documents.attach_form_files(
        g.space, "tasks.task", saved.id, form.attachments.data, field="attachments", actor=current_user
    )
    return saved


def _task(task_id: int) -> Task:
    return services.get_task(g.space, task_id) or abort(404)


@bp.get("/<int:task_id>")
def show_task(task_id: int):
    """A task with its checklist and comments."""
    return _render_task(_task(task_id), CommentForm())


def _render_task(task: Task, comment_form: CommentForm, status: int = 200):
    """The task page; its comment form (perhaps refused, with its errors) may record a voice message."""
    checklist = db.session.scalars(
        select(ChecklistItem).where(ChecklistItem.task_id == task.id).order_by(ChecklistItem.position, ChecklistItem.id)
    ).all()
    comments = db.session.scalars(
        select(TaskComment).where(TaskComment.task_id == task.id).order_by(TaskComment.created_at, TaskComment.id)
    ).all()
    # Asked before _context() may commit and expire the space; the recorder comes with the documents module.
    may_record = g.space.can_write(current_user) and g.space.has_module("documents")
    context = _context()
    html = render_template(
        "tasks/task.html",
        task=task,
        checklist=checklist,
        comments=comments,
        attachments=documents.attachments_for(g.space, "tasks.task", [task.id]).get(task.id),
        comment_files=documents.attachments_for(g.space, "tasks.comment", [c.id for c in comments]),
        comment_form=comment_form,
        checklist_form=ChecklistForm(),
        **context,
    )
    return recorder_page(html, status, may_record=may_record)  # the comment form's « Parler »


@bp.route("/<int:task_id>/edit", methods=["GET", "POST"])
def edit_task(task_id: int):
    """Change a task (its creator, its assignees, space admins)."""
    task = _task(task_id)
    require(task.can_edit(current_user))
    context = _context()
    form = _form(context, task)
    return save_form(
        form,
        lambda: _save_with_attachments(task, form),
        message=_("La tâche est modifiée."),
        done=lambda _t: url_for("tasks.show_task", task_id=task.id),
        render=lambda: render_template("tasks/form.html", form=form, task=task, **context),
    )


@bp.post("/<int:task_id>/delete")
def delete_task(task_id: int):
    task = _task(task_id)
    require(task.can_delete(current_user))
    services.delete_task(g.space, task)
    db.session.commit()
    flash(_("La tâche est supprimée."), "success")
    return redirect(url_for("tasks.list_tasks"))


@bp.post("/<int:task_id>/move")
def move_task(task_id: int):
    """Move a task to another status: the board's buttons, and its drag and drop."""
    task = _task(task_id)
    require(task.can_edit(current_user))
    services.move_task(g.space, task, int_arg_form("status"))
    db.session.commit()
    flash(_("« %(title)s » est maintenant : %(status)s.", title=task.title, status=task.status.name), "success")
    back = request.form.get("back")
    return redirect(
        url_for("tasks.show_task", task_id=task.id) if back == "task" else url_for("tasks.board") + f"#task-{task.id}"
    )


def int_arg_form(name: str) -> int:
    raw = request.form.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) < 2**31 else 0


@bp.post("/<int:task_id>/checklist")
def add_checklist_item(task_id: int):
    task = _task(task_id)
    require(task.can_edit(current_user))
    form = ChecklistForm()
    if not form.validate_on_submit():
        abort(400)
    services.add_checklist_item(g.space, task, form.text.data)
    db.session.commit()
    return redirect(url_for("tasks.show_task", task_id=task.id) + "#checklist")


@bp.post("/<int:task_id>/checklist/<int:item_id>/toggle")
def toggle_checklist_item(task_id: int, item_id: int):
    task = _task(task_id)
    require(task.can_edit(current_user))
    item = services.get_checklist_item(g.space, task, item_id) or abort(404)
    services.toggle_checklist_item(g.space, item)
    db.session.commit()
    return redirect(url_for("tasks.show_task", task_id=task.id) + f"#item-{item.id}")


@bp.post("/<int:task_id>/comments")
def add_comment(task_id: int):
    """Comment on a task (members and admins), in words, a voice message or both, with photos;
    its assignees hear of it."""
    task = _task(task_id)
    require(g.space.can_write(current_user))
    form = CommentForm()
    if not form.validate_on_submit():
        return _render_task(task, form, status=400)
    try:
        comment = services.add_comment(
            g.space, task, current_user, form.body.data, spoken=not (form.body.data or "").strip()
        )
        documents.attach_message_files(
            g.space,
            "tasks.comment",
            comment.id,
            form,
            has_text=bool(comment.body),
            empty=EMPTY_COMMENT,
            actor=current_user,
        )
    except ServiceError as exc:
        db.session.rollback()
        apply_service_error(form, exc)
        return _render_task(task, form, status=exc.status)
    db.session.commit()
    return redirect(url_for("tasks.show_task", task_id=task.id, _anchor=f"comment-{comment.id}"))


@bp.route("/lists/", methods=["GET", "POST"])
def manage_lists():
    """Task lists of the space (space admins create them)."""
    form = NameForm()
    if request.method == "POST":
        require(g.space.can_manage(current_user))
    return save_form(
        form,
        lambda: services.save_list(g.space, name=form.name.data, description=form.description.data or ""),
        message=_("La liste est créée."),
        done=lambda _l: url_for("tasks.manage_lists"),
        render=lambda: render_template("tasks/lists.html", form=form, **_context()),
    )


@bp.route("/statuses/", methods=["GET", "POST"])
def manage_statuses():
    """Statuses of the space (space admins add them; the last one means done)."""
    form = NameForm()
    if request.method == "POST":
        require(g.space.can_manage(current_user))
    return save_form(
        form,
        lambda: services.save_status(g.space, name=form.name.data),
        message=_("Le statut est ajouté."),
        done=lambda _s: url_for("tasks.manage_statuses"),
        render=lambda: render_template("tasks/statuses.html", form=form, **_context()),
    )


@bp.post("/statuses/<int:status_id>/rename")
def rename_status(status_id: int):
    """Rename a status (space admins)."""
    require(g.space.can_manage(current_user))
    status = services.get_status(g.space, status_id) or abort(404)
    try:
        services.rename_status(g.space, status, request.form.get("name", ""))
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return render_template("tasks/statuses.html", form=NameForm(formdata=None), **_context()), exc.status
    db.session.commit()
    flash(_("Le statut est renommé."), "success")
    return redirect(url_for("tasks.manage_statuses"))


@bp.post("/statuses/<int:status_id>/delete")
def delete_status(status_id: int):
    """Remove an unused status (space admins)."""
    require(g.space.can_manage(current_user))
    status = services.get_status(g.space, status_id) or abort(404)
    try:
        services.delete_status(g.space, status)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return render_template("tasks/statuses.html", form=NameForm(formdata=None), **_context()), exc.status
    db.session.commit()
    flash(_("Le statut est supprimé."), "success")
    return redirect(url_for("tasks.manage_statuses"))


@mine_bp.get("/tasks/")
@login_required
def my_tasks():
    """My open tasks across all my spaces, late ones first."""
    spaces = db.session.scalars(
        select(Space)
        .join(Membership, Membership.space_id == Space.id)
        .where(Membership.user_id == current_user.id, Space.archived_at.is_(None))
    ).all()
    space_ids = [s.id for s in spaces if s.has_module("tasks")]
    tasks = services.my_open_tasks(current_user, space_ids)
    return render_template("tasks/mine.html", tasks=tasks, today=services.today())
