"""The person's dashboard, a space's home, its settings, members and invitations, and joining."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from agora.auth import services as auth_services
from agora.auth.forms import SignupForm
from agora.auth.models import User
from agora.auth.sessions import start_session
from agora.core import registry
from agora.core.forms import apply_service_error, save_form
from agora.core.pagination import paginate
from agora.core.qr import qr_svg
from agora.core.security import forbid_caching, keep_secret, kept_secret
from agora.core.services import ServiceError
from agora.core.urls import public_url, secret_url
from agora.extensions import db
from agora.spaces import services
from agora.spaces.forms import (
    CreateAccountForm,
    InvitationCodeForm,
    InvitationForm,
    NewsForm,
    RoleForm,
    SettingsForm,
    colour_choices,
)
from agora.spaces.models import Activity, Invitation, Membership, NewsItem, Space
from agora.spaces.tenancy import membership_in, require, space_blueprint

bp = space_blueprint("spaces", __name__)
home_bp = Blueprint("home", __name__)
join_bp = Blueprint("join", __name__)

ACTIVITY_PER_PAGE = 20
MEMBERS_PER_PAGE = 50


# Dashboard --------------------------------------------------------------------------------


@home_bp.get("/")
def index():
    """The person's spaces as cards, each with how much is new since the last visit; a welcome
    with the first things to do for the spaces they have not opened yet."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    since = func.coalesce(Membership.last_visit_at, Membership.created_at)
    new_counts = (
        select(Activity.space_id, func.count().label("new"))
        .join(Membership, and_(Membership.space_id == Activity.space_id, Membership.user_id == current_user.id))
        .where(Activity.created_at > since, or_(Activity.actor_id.is_(None), Activity.actor_id != current_user.id))
        .group_by(Activity.space_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Space, Membership.role, func.coalesce(new_counts.c.new, 0), Membership.last_visit_at.is_(None))
        .join(Membership, and_(Membership.space_id == Space.id, Membership.user_id == current_user.id))
        .outerjoin(new_counts, new_counts.c.space_id == Space.id)
        .where(Space.archived_at.is_(None))
        .order_by(Space.name)
    ).all()
    return render_template("spaces/dashboard.html", rows=rows)


# A space's home ---------------------------------------------------------------------------


@bp.get("/")
def home():
    """The modules' panels (next events, my tasks, open polls), news (pinned first) and what
    happened since the previous visit."""
    space = g.space
    news = db.session.scalars(
        select(NewsItem)
        .where(NewsItem.space_id == space.id)
        .order_by(NewsItem.is_pinned.desc(), NewsItem.created_at.desc(), NewsItem.id.desc())
        .limit(10)
    ).all()
    page = paginate(
        select(Activity).where(Activity.space_id == space.id).order_by(Activity.created_at.desc(), Activity.id.desc()),
        ACTIVITY_PER_PAGE,
    )
    previous_visit = services.previous_visit(g.membership) or g.membership.created_at
    html = render_template(
        "spaces/home.html",
        space=space,
        news=news,
        page=page,
        previous_visit=previous_visit,
        panels=registry.panels("home", space, current_user),
        activity_labels=registry.activity_labels(),
    )
    if page.number == 1:
        # Noted, written shortly after by this process (agora.core.markers); after rendering, since
        # the tests' commit (MARKER_DELAY_MS = 0) expires every loaded object.
        services.mark_visit(g.membership, page.items[0].created_at if page.items else None)
        db.session.commit()
    return html


@bp.route("/news/new", methods=["GET", "POST"])
def new_news():
    """Write a news item (space admins)."""
    require(g.space.can_manage(current_user))
    return _news_form(None)


@bp.route("/news/<int:news_id>/edit", methods=["GET", "POST"])
def edit_news(news_id: int):
    """Edit a news item (space admins)."""
    news = services.get_news(g.space, news_id) or abort(404)
    require(news.can_edit(current_user))
    return _news_form(news)


def _news_form(news: NewsItem | None):
    form = NewsForm(obj=news)
    return save_form(
        form,
        lambda: services.save_news(
            g.space,
            news,
            title=form.title.data,
            body=form.body.data or "",
            is_pinned=form.is_pinned.data,
            author=current_user,
        ),
        message=_("L'actualité est publiée."),
        done=lambda _saved: url_for("spaces.home"),
        render=lambda: render_template("spaces/news_form.html", form=form, news=news, space=g.space),
    )


@bp.post("/news/<int:news_id>/delete")
def delete_news(news_id: int):
    """Delete a news item (space admins)."""
    news = services.get_news(g.space, news_id) or abort(404)
    require(news.can_delete(current_user))
    services.delete_news(g.space, news)
    db.session.commit()
    flash(_("L'actualité est supprimée."), "success")
    return redirect(url_for("spaces.home"))


# Settings ---------------------------------------------------------------------------------


@bp.route("/settings/", methods=["GET", "POST"])
def settings():
    """Name, description, colour and modules of the space (space admins)."""
    space = g.space
    require(space.can_manage(current_user))
    form = SettingsForm(obj=space)
    form.colour.choices = colour_choices(space.colour)
    if form.validate_on_submit():
        try:
            services.update_space(
                space,
                name=form.name.data,
                description=form.description.data or "",
                colour=form.colour.data,
                modules=form.modules.data or [],
            )
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
        else:
            auth_services.audit("space.settings_changed", current_user, space=space)
            db.session.commit()
            flash(_("Les réglages de l'espace sont enregistrés."), "success")
            return redirect(url_for("spaces.settings"))
    status = 400 if request.method == "POST" else 200
    return render_template("spaces/settings.html", form=form, space=space), status


# Members, invitations, accounts made for someone ------------------------------------------


def _manage_page(status: int = 200, invitation_form=None, account_form=None):
    space = g.space
    page = paginate(
        select(Membership)
        .join(User)
        .where(Membership.space_id == space.id)
        .order_by(Membership.role, User.display_name)
        .options(db.joinedload(Membership.user)),
        MEMBERS_PER_PAGE,
    )
    invitations = db.session.scalars(
        select(Invitation)
        .where(Invitation.space_id == space.id, Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(50)
    ).all()
    return render_template(
        "spaces/manage_members.html",
        space=space,
        page=page,
        invitations=[i for i in invitations if i.is_usable()],
        invitation_form=invitation_form or InvitationForm(prefix="inv"),
        account_form=account_form or CreateAccountForm(prefix="acc"),
        role_form=RoleForm(),
        setup_receivers=services.setup_link_receivers(space, [m.user for m in page.items]),
    ), status


@bp.get("/members/manage/")
def manage_members():
    """Members with their roles, open invitations, and account creation (space admins)."""
    require(g.space.can_manage(current_user))
    return _manage_page()


@bp.post("/members/manage/<int:membership_id>/role")
def change_role(membership_id: int):
    """Change a member's role (space admins); never leaves the space without an admin."""
    require(g.space.can_manage(current_user))
    membership = services.get_membership(g.space, membership_id) or abort(404)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Ce rôle n'existe pas : choisissez administrateur, membre ou lecteur."), "error")
        return _manage_page(400)
    try:
        services.change_role(g.space, membership, form.role.data, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _manage_page(exc.status)
    db.session.commit()
    flash(_("Le rôle de %(name)s est changé.", name=membership.user.display_name), "success")
    return redirect(url_for("spaces.manage_members"))


@bp.post("/members/manage/<int:membership_id>/remove")
def remove_member(membership_id: int):
    """Remove someone from the space (space admins); never the last admin."""
    require(g.space.can_manage(current_user))
    membership = services.get_membership(g.space, membership_id) or abort(404)
    name = membership.user.display_name
    try:
        services.remove_member(g.space, membership, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _manage_page(exc.status)
    db.session.commit()
    flash(_("%(name)s ne fait plus partie de l'espace.", name=name), "success")
    return redirect(url_for("spaces.manage_members"))


@bp.post("/members/manage/invitations/")
def create_invitation():
    """Create an invitation link with a role, an expiry and a number of uses (space admins)."""
    require(g.space.can_manage(current_user))
    form = InvitationForm(prefix="inv")
    if form.validate_on_submit():
        try:
            invitation, raw = services.create_invitation(
                g.space,
                role=form.role.data,
                max_uses=form.max_uses.data,
                days=form.days.data,
                label=form.label.data or "",
                actor=current_user,
            )
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
        else:
            code = services.add_invitation_code(invitation)
            db.session.commit()
            keep_secret(f"inv-{invitation.id}", raw)
            keep_secret(f"inv-code-{invitation.id}", code)
            return redirect(url_for("spaces.show_invitation", invitation_id=invitation.id))
    return _manage_page(400, invitation_form=form)


@bp.get("/members/manage/invitations/<int:invitation_id>")
def show_invitation(invitation_id: int):
    """The invitation's short code, link and QR code, printable (shown right after creation only)."""
    require(g.space.can_manage(current_user))
    invitation = services.get_invitation(g.space, invitation_id) or abort(404)
    raw = kept_secret(f"inv-{invitation.id}")
    link = secret_url("join.join", token=raw) if raw else None
    qr = qr_svg(link, _("Code QR de l'invitation")) if link else None
    code = kept_secret(f"inv-code-{invitation.id}") if link else None
    return render_template(
        "spaces/invitation.html",
        space=g.space,
        invitation=invitation,
        link=link,
        qr=qr,
        code=code,
        code_page=public_url("join.enter_code"),
    )


@bp.post("/members/manage/invitations/<int:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):
    """Make an invitation link stop working (space admins)."""
    require(g.space.can_manage(current_user))
    invitation = services.get_invitation(g.space, invitation_id) or abort(404)
    services.revoke_invitation(g.space, invitation, actor=current_user)
    db.session.commit()
    flash(_("L'invitation est annulée : le lien ne fonctionne plus."), "success")
    return redirect(url_for("spaces.manage_members"))


@bp.post("/members/manage/accounts/")
def create_account():
    """Create an account for someone without e-mail, then hand over a setup link (space admins)."""
    require(g.space.can_manage(current_user))
    form = CreateAccountForm(prefix="acc")
    if form.validate_on_submit():
        try:
            user = auth_services.create_user(
                form.username.data, None, display_name=form.display_name.data, email=form.email.data
            )
            services.add_member(g.space, user, form.role.data, actor=current_user)
            auth_services.audit("account.created", current_user, space=g.space, target=user.username)
            raw = auth_services.issue_token(user, "setup")
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            return _manage_page(exc.status, account_form=form)
        db.session.commit()
        keep_secret(f"setup-{user.id}", raw)
        return redirect(url_for("spaces.show_setup_link", membership_id=membership_in(user, g.space).id))
    return _manage_page(400, account_form=form)


def _setup_target(membership_id: int) -> Membership:
    membership = services.get_membership(g.space, membership_id) or abort(404)
    # A space admin must not take over an account with an address or powers of its own.
    if membership.user_id not in services.setup_link_receivers(g.space, [membership.user]):
        abort(403)
    return membership


@bp.post("/members/manage/<int:membership_id>/setup-link")
def new_setup_link(membership_id: int):
    """Make a new setup link (the old link stops working): for an account never set up, or a
    habitant without e-mail who forgot their password; the audit log says which."""
    require(g.space.can_manage(current_user))
    membership = _setup_target(membership_id)
    raw = auth_services.issue_token(membership.user, "setup")
    action = "account.setup_link" if membership.user.password_hash is None else "account.password_link"
    auth_services.audit(action, current_user, space=g.space, target=membership.user.username)
    db.session.commit()
    keep_secret(f"setup-{membership.user_id}", raw)
    return redirect(url_for("spaces.show_setup_link", membership_id=membership.id))


@bp.get("/members/manage/<int:membership_id>/setup-link")
def show_setup_link(membership_id: int):
    """The printable setup link with its QR code, to hand over to the person."""
    require(g.space.can_manage(current_user))
    membership = _setup_target(membership_id)
    raw = kept_secret(f"setup-{membership.user_id}")
    link = secret_url("auth.setup_account", token=raw) if raw else None
    qr = qr_svg(link, _("Code QR du lien de création du mot de passe")) if link else None
    return render_template("spaces/setup_link.html", space=g.space, membership=membership, link=link, qr=qr)


# Joining from an invitation ---------------------------------------------------------------


@join_bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    """Open an invitation: join with one's account, or create one (no e-mail needed)."""
    forbid_caching()  # the address itself is the secret
    invitation = services.find_invitation(token)
    if invitation is None:
        abort(404)
    return _join_page(invitation, decline_url=url_for("join.decline", token=token))


@join_bp.route("/join/", methods=["GET", "POST"])
def enter_code():
    """« J'ai un code d'invitation » : type the short code of a printed invitation, then join."""
    form = InvitationCodeForm()
    if form.validate_on_submit():
        code = services.normalise_code(form.code.data)
        return _code_or_form(form, lambda invitation: redirect(url_for("join.join_by_code", code=code)))
    return render_template("spaces/join_code.html", form=form), 400 if request.method == "POST" else 200


@join_bp.route("/join/code/<code>", methods=["GET", "POST"])
def join_by_code(code: str):
    """The join page of the invitation whose short code was typed (the code page leads here)."""
    forbid_caching()  # the address holds the code
    form = InvitationCodeForm(formdata=None, data={"code": code})
    return _code_or_form(form, lambda invitation: _join_page(invitation, decline_url=None))


def _code_or_form(form: InvitationCodeForm, found):
    """Look the typed code up: `found(invitation)` answers, else the code page with why not."""
    try:
        invitation = services.find_invitation_by_code(form.code.data, request.remote_addr)
    except ServiceError as exc:
        db.session.commit()  # a wrong guess is counted, and written to the audit log
        apply_service_error(form, exc)
        return render_template("spaces/join_code.html", form=form), exc.status
    return found(invitation)


def _join_page(invitation: Invitation, *, decline_url: str | None):
    space = invitation.space
    usable = invitation.is_usable() and not space.is_archived
    form = SignupForm()
    page = {"invitation": invitation, "space": space, "form": form, "decline_url": decline_url}
    if not usable:
        return render_template("spaces/join.html", usable=False, **page), 410
    if request.method == "POST" and current_user.is_authenticated:
        try:
            services.accept_invitation(invitation, current_user._get_current_object())
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
            return render_template("spaces/join.html", usable=False, **page), exc.status
        db.session.commit()
        flash(_("Bienvenue dans l'espace « %(name)s » !", name=space.name), "success")
        return redirect(url_for("spaces.home", slug=space.slug))
    status = 200
    refused = _signup_refusal(form) if not current_user.is_authenticated and form.is_submitted() else None
    if refused == 0:
        try:
            user = auth_services.create_user(
                form.username.data, form.password.data, display_name=form.display_name.data, email=form.email.data
            )
            auth_services.audit("account.created", user, space=space, target=user.username)
            services.accept_invitation(invitation, user)
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            status = exc.status
        else:
            start_session(user)
            db.session.commit()
            flash(_("Votre compte est créé. Bienvenue dans l'espace « %(name)s » !", name=space.name), "success")
            return redirect(url_for("spaces.home", slug=space.slug))
    elif refused:
        status = refused
    elif invitation.email and not form.is_submitted():  # mailed to this person: what the importer wrote, to start from
        form.display_name.data, form.email.data = invitation.label, invitation.email
    return render_template("spaces/join.html", usable=True, **page), status


def _signup_refusal(form: SignupForm) -> int:
    """Check the form and the account rules together, so every error shows on the first try.
    Returns 0 when all is well, else the status to answer (409 for a taken identifier)."""
    status = 0 if form.validate() else 400
    for problem in auth_services.account_problems(form.username.data, form.email.data, form.password.data):
        if not getattr(form, problem.field).errors:
            apply_service_error(form, problem)
        status = max(status, problem.status)
    return status


@join_bp.post("/join/<token>/decline")
def decline(token: str):
    """Say no to an invitation mailed to oneself: the link stops working, nobody joins."""
    invitation = services.find_invitation(token)
    if invitation is None or not invitation.email:
        abort(404)
    try:
        services.decline_invitation(invitation)
    except ServiceError as exc:
        db.session.rollback()
        return render_template(
            "spaces/join.html", invitation=invitation, space=invitation.space, usable=False, form=SignupForm()
        ), exc.status
    db.session.commit()
    return render_template(
        "spaces/join.html",
        invitation=invitation,
        space=invitation.space,
        usable=False,
        declined=True,
        form=SignupForm(),
    )
