"""Login, logout, profile and logins, password change, setup and reset links."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from sqlalchemy.exc import SQLAlchemyError

from agora.auth import services
from agora.auth.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, NewPasswordForm, ProfileForm
from agora.auth.models import User
from agora.auth.sessions import start_session
from agora.core import registry
from agora.core.forms import apply_service_error
from agora.core.security import forbid_caching
from agora.core.services import ServiceError, one_line
from agora.core.urls import safe_next
from agora.extensions import db, login_manager

bp = Blueprint("auth", __name__)


#: Requests that never need to know who is calling: loading the login there would only cost a query.
ANONYMOUS_ENDPOINTS = frozenset({"static", "core.healthz"})


@login_manager.user_loader
def load_user(secret: str) -> User | None:
    """Return the user of a live login secret (from the session or remember-me cookie); None ends the session."""
    found = services.load_login(secret)
    return found[0] if found else None


def _wait_message(minutes: int) -> str:
    return ngettext(
        "Trop d'essais : patientez %(num)s minute avant de réessayer.",
        "Trop d'essais : patientez %(num)s minutes avant de réessayer.",
        minutes,
    )


@bp.before_app_request
def note_login_in_use():
    """Keep a login's "last used" roughly right: written at most once an hour, before the view runs."""
    if request.endpoint in ANONYMOUS_ENDPOINTS or not current_user.is_authenticated:
        return
    login = services.current_login(current_user)
    if login is None:
        return
    try:
        if services.touch_login(login):
            db.session.commit()
    except SQLAlchemyError:  # only a hint for the profile page: a busy database must not cost the page
        db.session.rollback()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; after success, go to `next` when it is a path on this server."""
    next_path = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data, request.remote_addr)
        except services.LoginThrottled as exc:
            db.session.commit()
            form.password.errors.append(_wait_message(exc.minutes))
            return render_template("auth/login.html", form=form, next=next_path), 429
        if user is None:
            db.session.commit()
            form.password.errors.append(_("Identifiant ou mot de passe incorrect."))
            status = 401
        else:
            start_session(user, remember=form.remember.data)
            db.session.commit()
            return redirect(next_path or url_for("home.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next=next_path), status


@bp.post("/logout")
def logout():
    """End the session and its login, so that no copy of its cookies opens anything any more."""
    if current_user.is_authenticated:
        services.end_login_by_secret(current_user.get_id())
        db.session.commit()
    session.clear()
    logout_user()  # after clearing: it leaves the order to delete the remember-me cookie in the session
    flash(_("Vous êtes déconnecté."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Edit one's own name, e-mail, language, time zone and display (mode simple)."""
    user = current_user._get_current_object()
    form = ProfileForm(obj=user)
    if request.method == "GET":
        form.language.data = user.language or current_app.config["DEFAULT_LANGUAGE"]
        form.timezone.data = user.timezone or current_app.config["DEFAULT_TIMEZONE"]
    password_form = ChangePasswordForm(prefix="pw")
    status = 200
    if form.validate_on_submit():
        try:
            email = services.normalise_email(form.email.data)
        except ServiceError as exc:
            apply_service_error(form, exc)
            status = 400
        else:
            user.display_name = one_line(form.display_name.data)[:80] or user.username
            user.email = email
            user.language = form.language.data
            user.timezone = form.timezone.data
            user.tasks_in_feed = form.tasks_in_feed.data
            user.simple_mode = form.simple_mode.data
            db.session.commit()
            flash(_("Votre profil est enregistré."), "success")
            return redirect(url_for("auth.profile"))
    elif request.method == "POST":
        status = 400
    return _profile_page(form, password_form, status=status)


@bp.post("/profile/simple-mode")
@login_required
def set_simple_mode():
    """The one-click « Mode simple » / « Affichage habituel » switch of the footer: store it, go back."""
    choice = request.form.get("simple_mode")
    if choice not in ("on", "off"):
        abort(400)
    user = current_user._get_current_object()
    user.simple_mode = choice == "on"
    db.session.commit()
    flash(_("Mode simple activé.") if user.simple_mode else _("Affichage habituel rétabli."), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("auth.profile"))


def _directory_form(user: User):
    from agora.members.forms import DirectoryProfileForm
    from agora.members.services import privacy_of

    form = DirectoryProfileForm(prefix="dir", obj=user)
    if not any(key.startswith("dir-") for key in request.form):  # another form was submitted: show stored choices
        for name, audience in privacy_of(user).items():
            getattr(form, f"privacy_{name}").data = audience
    return form


def _profile_page(form, password_form, directory_form=None, status: int = 200):
    user = current_user._get_current_object()
    current = services.current_login(user)
    return render_template(
        "auth/profile.html",
        form=form,
        password_form=password_form,
        directory_form=directory_form or _directory_form(user),
        panels=registry.panels("profile", None, user),
        logins=services.user_logins(user),
        current_login_id=current.id if current else None,
    ), status


@bp.post("/profile/logins/<int:login_id>/end")
@login_required
def end_login(login_id: int):
    """End one of my logins (another device); ending this one is logging out."""
    user = current_user._get_current_object()
    current = services.current_login(user)
    if current is not None and current.id == login_id:
        return logout()
    if not services.end_login(user, login_id):
        abort(404)
    return _logins_ended(user, "login.ended", _("Cette connexion est fermée."))


@bp.post("/profile/logins/end-others")
@login_required
def end_other_logins():
    """End every login of mine but this one."""
    user = current_user._get_current_object()
    current = services.current_login(user)
    ended = services.end_logins(user, keep_id=current.id if current else None)
    return _logins_ended(user, "login.ended_others", _("Vos autres connexions sont fermées."), count=ended)


def _logins_ended(user, action: str, message: str, **details):
    """Audit the ended logins, commit, and go back to the list of my logins."""
    services.audit(action, user, target=user.username, details=details or None)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("auth.profile") + "#logins-heading")


@bp.post("/profile/directory")
@login_required
def directory_profile():
    """My phone, presentation, photo, and who sees each field in the directories of my spaces."""
    from agora.members import services as members

    user = current_user._get_current_object()
    directory_form = _directory_form(user)
    if not directory_form.validate_on_submit():
        db.session.rollback()
        return _profile_page(
            ProfileForm(obj=user, formdata=None), ChangePasswordForm(prefix="pw", formdata=None), directory_form, 400
        )
    old_photo = None
    try:
        members.update_profile_details(
            user,
            phone=directory_form.phone.data or "",
            presentation=directory_form.presentation.data or "",
            privacy={name: getattr(directory_form, f"privacy_{name}").data for name in members.PRIVATE_FIELDS},
        )
        upload = directory_form.avatar.data
        if directory_form.remove_avatar.data:
            old_photo = members.remove_avatar(user)
        elif upload and getattr(upload, "filename", ""):
            with upload.stream as stream:
                data = stream.read(members.AVATAR_MAX_BYTES + 1)
            old_photo = members.set_avatar(user, data)
    except ServiceError as exc:
        db.session.rollback()
        apply_service_error(directory_form, exc)
        return _profile_page(
            ProfileForm(obj=user, formdata=None),
            ChangePasswordForm(prefix="pw", formdata=None),
            directory_form,
            exc.status,
        )
    db.session.commit()
    if old_photo is not None:
        old_photo.unlink(missing_ok=True)
    flash(_("Votre fiche d'annuaire est enregistrée."), "success")
    return redirect(url_for("auth.profile"))


@bp.post("/profile/password")
@login_required
def change_password():
    """Change one's password; every other session of the account ends."""
    user = current_user._get_current_object()
    form = ProfileForm(obj=user, formdata=None)
    password_form = ChangePasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        wait = services.throttle_wait(user.username, request.remote_addr)
        if wait:
            password_form.current.errors.append(_wait_message(wait))
            return _profile_page(form, password_form, status=429)
        if not services.verify_password(user, password_form.current.data):
            # Guessing the current password counts like a failed login.
            services.record_failure(user.username, request.remote_addr)
            db.session.commit()
            password_form.current.errors.append(_("Le mot de passe actuel est incorrect."))
            return _profile_page(form, password_form, status=400)
        else:
            try:
                services.set_password(user, password_form.password.data)
            except ServiceError as exc:
                password_form.password.errors.append(str(exc.message))
            else:
                services.audit("password.changed", user, target=user.username)
                start_session(user)
                db.session.commit()
                flash(_("Votre mot de passe est changé. Vos autres connexions sont fermées."), "success")
                return redirect(url_for("auth.profile"))
    db.session.rollback()
    return _profile_page(form, password_form, status=400)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link by e-mail; the answer is the same whether the account exists or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, ip=request.remote_addr, language=str(get_locale()))
        db.session.commit()
        return render_template("auth/forgot_sent.html")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


def _token_page(purpose: str, token: str, template: str):
    forbid_caching()  # the address itself is the secret
    found = services.find_token(token, purpose)
    if found is None:
        abort(404)
    form = NewPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.use_token(found, form.password.data)
        except ServiceError as exc:
            db.session.rollback()
            form.password.errors.append(str(exc.message))
            return render_template(template, form=form, user=found.user), 400
        start_session(user)
        db.session.commit()
        flash(_("Votre mot de passe est enregistré. Bienvenue !"), "success")
        return redirect(url_for("home.index"))
    if request.method == "POST":
        status = 400
    return render_template(template, form=form, user=found.user), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password from a single-use reset link (valid one hour)."""
    return _token_page("reset", token, "auth/reset.html")


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup_account(token: str):
    """Choose one's first password from the setup link a mediator handed over."""
    return _token_page("setup", token, "auth/setup.html")
