"""Member directory pages: the directory, profiles, organisations, exports, import, avatars."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from agora.auth.models import User
from agora.core import registry
from agora.core.forms import (
    apply_service_error,
    preview_token,
    previewed_file,
    save_form,
)
from agora.core.pagination import paginate
from agora.core.qr import qr_svg
from agora.core.services import ServiceError, contains_pattern
from agora.core.urls import int_arg, secret_url
from agora.extensions import db
from agora.members import services
from agora.members.forms import ImportForm, MyDetailsForm, OrganisationForm
from agora.spaces.models import Membership
from agora.spaces.tenancy import require, space_blueprint

bp = space_blueprint("members", __name__, "/members")

PER_PAGE = 30


def _viewer_role() -> str:
    return g.membership.role


def _memberships():
    return (
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.space_id == g.space.id)
        .options(joinedload(Membership.user), joinedload(Membership.organisation))
        .order_by(func.lower(User.display_name), User.id)
    )


def _member(user_id: int) -> Membership:
    membership = db.session.scalar(_memberships().where(Membership.user_id == user_id))
    return membership or abort(404)


@bp.get("/")
def directory():
    """Everyone in the space, filtered by organisation or a name, showing what each allows."""
    stmt = _memberships()
    organisation = None
    if "organisation" in request.args:
        organisation = services.get_organisation(g.space, int_arg("organisation")) or abort(404)
        stmt = stmt.where(Membership.organisation_id == organisation.id)
    q = request.args.get("q", "").strip()[:80]
    if q:
        stmt = stmt.where(func.lower(User.display_name).like(contains_pattern(q), escape="\\"))
    if organisation is not None and _viewer_role() != "admin":
        # Only people who show their organisation to this viewer are listed under it.
        audience = {"member": ("members",), "reader": ("members",)}[_viewer_role()]
        stmt = stmt.where(
            or_(
                User.id == current_user.id,
                *[func.coalesce(User.privacy["organisation"].as_string(), "members") == a for a in audience],
            )
        )
    elif organisation is not None:
        stmt = stmt.where(
            or_(
                User.id == current_user.id,
                func.coalesce(User.privacy["organisation"].as_string(), "members") != "nobody",
            )
        )
    page = paginate(stmt, PER_PAGE)
    cards = [services.visible_card(m, current_user, _viewer_role()) for m in page.items]
    return render_template(
        "members/directory.html",
        space=g.space,
        page=page,
        cards=cards,
        q=q,
        organisation=organisation,
        organisations=services.list_organisations(g.space),
    )


@bp.get("/<int:user_id>")
def profile(user_id: int):
    """One member as the viewer may see them, with the modules' panels (their topics, their tasks)."""
    membership = _member(user_id)
    card = services.visible_card(membership, current_user, _viewer_role())
    return render_template(
        "members/profile.html", space=g.space, card=card, panels=registry.panels("member", g.space, membership.user)
    )


@bp.get("/<int:user_id>/avatar")
def avatar(user_id: int):
    """A member's photo, for people who share this space with them."""
    membership = _member(user_id)
    if not membership.user.avatar:
        abort(404)
    path = services.avatars_dir() / membership.user.avatar
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=3600, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _vcard_response(text: str, filename: str) -> Response:
    return Response(
        text,
        mimetype="text/vcard",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/<int:user_id>.vcf")
def member_vcard(user_id: int):
    """One member's vCard, with only what the viewer may see."""
    card = services.visible_card(_member(user_id), current_user, _viewer_role())
    return _vcard_response(services.vcard(card), f"{card.user.username}.vcf")


def _all_cards():
    return [services.visible_card(m, current_user, _viewer_role()) for m in db.session.scalars(_memberships()).unique()]


@bp.get("/directory.vcf")
def directory_vcard():
    """The whole directory as vCards, with only what the viewer may see."""
    return _vcard_response("".join(services.vcard(c) for c in _all_cards()), f"annuaire-{g.space.slug}.vcf")


@bp.get("/directory.csv")
def directory_csv():
    """The directory as CSV for the space's admins, with what the owners let admins see."""
    require(g.space.can_manage(current_user))
    return Response(
        services.directory_csv(_all_cards()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="annuaire-{g.space.slug}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/me", methods=["GET", "POST"])
def my_details():
    """My organisation and function in this space."""
    membership = g.membership
    form = MyDetailsForm(obj=membership)
    form.organisation.choices = [SelectChoice(0, _("Aucune"))] + [
        SelectChoice(o.id, o.name) for o in services.list_organisations(g.space)
    ]
    if request.method == "GET":
        form.organisation.data = membership.organisation_id or 0
    return save_form(
        form,
        lambda: services.set_membership_details(
            g.space, membership, organisation_id=form.organisation.data or None, function=form.function.data or ""
        ),
        message=_("Vos informations dans cet espace sont enregistrées."),
        done=lambda _none: url_for("members.profile", user_id=current_user.id),
        render=lambda: render_template("members/me.html", space=g.space, form=form),
    )


@bp.route("/organisations/", methods=["GET", "POST"])
def organisations():
    """The partners of the space; space admins add them."""
    form = OrganisationForm()
    counts = dict(
        db.session.execute(
            select(Membership.organisation_id, func.count())
            .where(Membership.space_id == g.space.id)
            .group_by(Membership.organisation_id)
        ).all()
    )
    page = lambda: render_template(  # noqa: E731
        "members/organisations.html",
        space=g.space,
        form=form,
        organisations=services.list_organisations(g.space),
        counts=counts,
    )
    if request.method == "POST":
        require(g.space.can_manage(current_user))
    return save_form(
        form,
        lambda: services.save_organisation(g.space, None, name=form.name.data, description=form.description.data or ""),
        message=_("La structure est ajoutée."),
        done=lambda _org: url_for("members.organisations"),
        render=page,
    )


@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
def edit_organisation(organisation_id: int):
    """Rename or describe a partner (space admins)."""
    require(g.space.can_manage(current_user))
    organisation = services.get_organisation(g.space, organisation_id) or abort(404)
    form = OrganisationForm(obj=organisation)
    return save_form(
        form,
        lambda: services.save_organisation(
            g.space, organisation, name=form.name.data, description=form.description.data or ""
        ),
        message=_("La structure est enregistrée."),
        done=lambda _org: url_for("members.directory", organisation=organisation.id),
        render=lambda: render_template(
            "members/organisation_edit.html", space=g.space, form=form, organisation=organisation
        ),
    )


@bp.post("/organisations/<int:organisation_id>/delete")
def delete_organisation(organisation_id: int):
    """Remove a partner from the list; its members stay, without an organisation (space admins)."""
    require(g.space.can_manage(current_user))
    organisation = services.get_organisation(g.space, organisation_id) or abort(404)
    services.delete_organisation(g.space, organisation)
    db.session.commit()
    flash(_("La structure est retirée de la liste."), "success")
    return redirect(url_for("members.organisations"))


@bp.route("/import", methods=["GET", "POST"])
def import_members():
    """Space admins: upload a CSV of people and see what each row will do, before anything is written."""
    require(g.space.can_manage(current_user))
    form = ImportForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("members/import.html", space=g.space, form=form, rows=None), status
    raw = form.file.data.read(services.IMPORT_MAX_ROWS * 1024 + 1)
    if len(raw) > services.IMPORT_MAX_ROWS * 1024:
        form.file.errors.append(_("Le fichier est trop gros : découpez-le."))
        return render_template("members/import.html", space=g.space, form=form, rows=None), 413
    try:
        rows = services.parse_import(g.space, raw)
    except ServiceError as exc:
        apply_service_error(form, exc)
        return render_template("members/import.html", space=g.space, form=form, rows=None), exc.status
    encoded = preview_token(raw)
    status = 422 if any(r.action == "error" for r in rows) else 200
    return render_template("members/import.html", space=g.space, form=form, rows=rows, encoded=encoded), status


@bp.post("/import/confirm")
def confirm_import():
    """Apply a previewed import: every row or none; invitations are mailed, new accounts get their setup links."""
    require(g.space.can_manage(current_user))
    raw = previewed_file()
    form = ImportForm(formdata=None)
    try:
        rows = services.parse_import(g.space, raw)
        result = services.apply_import(
            g.space,
            rows,
            actor=current_user,
            setup_url_for=lambda token: secret_url("auth.setup_account", token=token),
            join_url_for=lambda token: secret_url("join.join", token=token),
        )
    except ServiceError as exc:
        db.session.rollback()
        apply_service_error(form, exc)
        return render_template("members/import.html", space=g.space, form=form, rows=None), exc.status
    db.session.commit()
    sheets = [
        (user, link, qr_svg(link, _("Code QR du lien de création du mot de passe"))) for user, link in result.created
    ]
    return render_template("members/import_done.html", space=g.space, sheets=sheets, invited=result.invited)
