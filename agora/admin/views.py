"""The hosting admin console: every space with its usage, every account, the audit log."""

from __future__ import annotations

import shutil

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from agora.admin.forms import AppointForm, ConsoleAccountForm, DeleteSpaceForm, SpaceCreateForm, SpaceEditForm
from agora.auth import journal
from agora.auth import services as auth_services
from agora.auth.models import AuditEntry, User
from agora.core.forms import apply_service_error
from agora.core.pagination import paginate
from agora.core.qr import qr_svg
from agora.core.security import keep_secret, kept_secret
from agora.core.services import ServiceError, contains_pattern, one_line
from agora.core.urls import secret_url
from agora.extensions import db, login_manager
from agora.spaces import services as space_services
from agora.spaces.models import Membership, Space

bp = Blueprint("admin", __name__, url_prefix="/admin")

USERS_PER_PAGE = 50
AUDIT_PER_PAGE = 50


@bp.before_request
def require_site_admin():
    """Only hosting admins enter the console."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_site_admin:
        abort(403)


def _space(space_id: int) -> Space:
    return db.session.get(Space, space_id) or abort(404)


@bp.get("/")
def index():
    """Every space with its members, storage and last activity."""
    members = select(Membership.space_id, func.count().label("n")).group_by(Membership.space_id).subquery()
    rows = db.session.execute(
        select(Space, func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.space_id == Space.id)
        .order_by(Space.archived_at.is_not(None), Space.name)
    ).all()
    mine = set(db.session.scalars(select(Membership.space_id).where(Membership.user_id == current_user.id)))
    return render_template("admin/index.html", rows=rows, mine=mine)


@bp.route("/spaces/new", methods=["GET", "POST"])
def new_space():
    """Create a space and name its first admin."""
    form = SpaceCreateForm()
    if form.validate_on_submit():
        try:
            admin = None
            if form.admin.data:
                admin = auth_services.get_user_by_username(form.admin.data)
                if admin is None:
                    raise ServiceError(_("Aucun compte n'a cet identifiant."), field="admin", status=400)
            space = space_services.create_space(
                form.slug.data,
                form.name.data,
                actor=current_user,
                admin=admin,
                quota_mb=form.quota_mb.data,
                description=form.description.data or "",
            )
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            return render_template("admin/space_new.html", form=form), exc.status
        db.session.commit()
        flash(_("L'espace « %(name)s » est créé.", name=space.name), "success")
        return redirect(url_for("admin.edit_space", space_id=space.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/space_new.html", form=form), status


@bp.route("/spaces/<int:space_id>/", methods=["GET", "POST"])
def edit_space(space_id: int):
    """Rename a space, set its quota; links to appoint admins, archive, delete."""
    space = _space(space_id)
    form = SpaceEditForm(obj=space)
    if form.validate_on_submit():
        space.name = one_line(form.name.data)[:120] or space.name
        space.quota_mb = form.quota_mb.data
        auth_services.audit("space.updated", current_user, space=space, details={"quota_mb": space.quota_mb})
        db.session.commit()
        flash(_("L'espace est enregistré."), "success")
        return redirect(url_for("admin.edit_space", space_id=space.id))
    status = 400 if request.method == "POST" else 200
    return _space_page(space, form=form, status=status)


def _space_page(space: Space, form=None, appoint_form=None, delete_form=None, status=200):
    admins = db.session.scalars(
        select(User)
        .join(Membership)
        .where(Membership.space_id == space.id, Membership.role == "admin")
        .order_by(User.display_name)
    ).all()
    return render_template(
        "admin/space_edit.html",
        space=space,
        admins=admins,
        form=form or SpaceEditForm(obj=space),
        appoint_form=appoint_form or AppointForm(prefix="appoint"),
        delete_form=delete_form or DeleteSpaceForm(prefix="delete"),
        my_role=space.role_of(current_user),
    ), status


@bp.post("/spaces/<int:space_id>/appoint")
def appoint(space_id: int):
    """Give an account a role in the space (usually: appoint a space admin)."""
    space = _space(space_id)
    form = AppointForm(prefix="appoint")
    if form.validate_on_submit():
        user = auth_services.get_user_by_username(form.username.data)
        if user is None:
            form.username.errors.append(_("Aucun compte n'a cet identifiant."))
            return _space_page(space, appoint_form=form, status=400)
        try:
            if user.id == current_user.id:
                space_services.grant_self(space, user, form.role.data)
            else:
                space_services.add_member(space, user, form.role.data, actor=current_user)
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            return _space_page(space, appoint_form=form, status=exc.status)
        db.session.commit()
        flash(_("%(name)s a maintenant ce rôle dans l'espace.", name=user.display_name), "success")
        return redirect(url_for("admin.edit_space", space_id=space.id))
    return _space_page(space, appoint_form=form, status=400)


@bp.post("/spaces/<int:space_id>/join")
def join_space(space_id: int):
    """The hosting admin grants themself a membership to read a space: written to the audit log."""
    space = _space(space_id)
    role = request.form.get("role", "reader")
    try:
        space_services.grant_self(space, current_user, role)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _space_page(space, status=exc.status)
    db.session.commit()
    flash(_("Vous êtes membre de l'espace ; cet accès est noté dans le journal."), "success")
    return redirect(url_for("spaces.home", slug=space.slug))


@bp.post("/spaces/<int:space_id>/archive")
def archive_space(space_id: int):
    """Archive a space: its members no longer see it; nothing is deleted."""
    space = _space(space_id)
    space_services.archive_space(space, actor=current_user)
    db.session.commit()
    flash(_("L'espace est archivé."), "success")
    return redirect(url_for("admin.edit_space", space_id=space.id))


@bp.post("/spaces/<int:space_id>/restore")
def restore_space(space_id: int):
    """Bring an archived space back."""
    space = _space(space_id)
    space_services.restore_space(space, actor=current_user)
    db.session.commit()
    flash(_("L'espace est de nouveau ouvert."), "success")
    return redirect(url_for("admin.edit_space", space_id=space.id))


@bp.post("/spaces/<int:space_id>/delete")
def delete_space(space_id: int):
    """Delete a space for good, once its slug is typed back."""
    space = _space(space_id)
    form = DeleteSpaceForm(prefix="delete")
    if form.validate_on_submit():
        name = space.name
        try:
            files = space_services.delete_space(space, form.confirmation.data, actor=current_user)
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            return _space_page(space, delete_form=form, status=exc.status)
        db.session.commit()
        shutil.rmtree(files, ignore_errors=True)
        from agora.search.indexing import forget_space

        forget_space(space_id)
        flash(_("L'espace « %(name)s » est supprimé.", name=name), "success")
        return redirect(url_for("admin.index"))
    return _space_page(space, delete_form=form, status=400)


# Accounts ---------------------------------------------------------------------------------


@bp.get("/users/")
def users():
    """Every account, searchable by username, name or e-mail."""
    q = request.args.get("q", "").strip()[:100]
    stmt = select(User).order_by(User.username_key)
    if q:
        like = contains_pattern(q)
        stmt = stmt.where(
            or_(
                User.username_key.like(like, escape="\\"),
                func.lower(User.display_name).like(like, escape="\\"),
                User.email.like(like, escape="\\"),
            )
        )
    page = paginate(stmt, USERS_PER_PAGE)
    return render_template("admin/users.html", page=page, q=q)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create an account (without a password: the person chooses one with a setup link, shown once
    and printable), optionally a hosting admin, optionally a member of one space."""
    spaces = db.session.scalars(select(Space).where(Space.archived_at.is_(None)).order_by(Space.name)).all()
    form = ConsoleAccountForm(spaces)
    if not form.is_submitted():
        return render_template("admin/user_new.html", form=form)
    status = 0 if form.validate() else 400
    for problem in auth_services.account_problems(form.username.data, form.email.data, None):
        if not getattr(form, problem.field).errors:
            apply_service_error(form, problem)
        status = max(status, problem.status)
    if status:
        return render_template("admin/user_new.html", form=form), status
    space = next((s for s in spaces if s.id == form.space.data), None)
    try:
        user = auth_services.create_user(
            form.username.data,
            None,
            display_name=form.display_name.data,
            email=form.email.data,
            is_site_admin=form.site_admin.data,
        )
        auth_services.audit(
            "account.created",
            current_user,
            space=space,
            target=user.username,
            details={"site_admin": form.site_admin.data, "via": "console"},
        )
        if space is not None:
            space_services.add_member(space, user, form.role.data, actor=current_user)
        raw = auth_services.issue_token(user, "setup")
    except ServiceError as exc:
        db.session.rollback()
        apply_service_error(form, exc)
        return render_template("admin/user_new.html", form=form), exc.status
    db.session.commit()
    keep_secret(f"setup-{user.id}", raw)
    flash(_("Le compte %(name)s est créé.", name=user.username), "success")
    return redirect(url_for("admin.show_reset", user_id=user.id, new=1))


def _user(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int):
    """Disable an account: its sessions end at once."""
    user = _user(user_id)
    try:
        auth_services.disable_user(user, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("admin.users"))
    db.session.commit()
    flash(_("Le compte %(name)s est désactivé.", name=user.username), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int):
    """Re-enable an account."""
    user = _user(user_id)
    auth_services.enable_user(user, actor=current_user)
    db.session.commit()
    flash(_("Le compte %(name)s est réactivé.", name=user.username), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/reset")
def reset_user(user_id: int):
    """Make a link with which the person chooses a new password (shown once, printable)."""
    user = _user(user_id)
    raw = auth_services.issue_token(user, "setup")
    auth_services.audit("account.reset", current_user, target=user.username)
    db.session.commit()
    keep_secret(f"setup-{user.id}", raw)
    return redirect(url_for("admin.show_reset", user_id=user.id))


@bp.get("/users/<int:user_id>/reset")
def show_reset(user_id: int):
    """The reset link of an account with its QR code."""
    user = _user(user_id)
    raw = kept_secret(f"setup-{user.id}")
    link = secret_url("auth.setup_account", token=raw) if raw else None
    qr = qr_svg(link, _("Code QR du lien de création du mot de passe")) if link else None
    created = request.args.get("new") == "1" and user.password_hash is None
    return render_template("admin/reset.html", user=user, link=link, qr=qr, created=created)


@bp.get("/audit/")
def audit_log():
    """The audit log, newest first, filtered by kind of action, by who acted and by space."""
    group = request.args.get("group", "")
    who = request.args.get("who", "").strip()[:40]
    space = request.args.get("space", "").strip()[:40]
    stmt = select(AuditEntry).options(db.joinedload(AuditEntry.actor))
    codes = journal.group_actions(group)
    if codes is not None:
        stmt = stmt.where(AuditEntry.action.in_(codes))
    else:
        group = ""
    if who:
        stmt = stmt.where(AuditEntry.actor.has(User.username_key == who.lower()))
    if space:
        stmt = stmt.where(AuditEntry.space_slug == space.lower())
    page = paginate(stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()), AUDIT_PER_PAGE)
    return render_template(
        "admin/audit.html", page=page, groups=journal.GROUPS, group=group, who=who, space=space, journal=journal
    )
