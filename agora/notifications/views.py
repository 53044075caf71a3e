"""The bell page, notification preferences (everywhere, per space, a space's defaults), unsubscribe links."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from agora.core import registry
from agora.core.pagination import paginate
from agora.core.security import forbid_caching
from agora.extensions import csrf, db
from agora.notifications import services
from agora.notifications.models import DELIVERIES, Notification
from agora.notifications.texts import DELIVERY_LABELS, sentence
from agora.spaces.models import Membership, Space
from agora.spaces.tenancy import require, space_blueprint

bp = Blueprint("notifications", __name__)
space_bp = space_blueprint("space_notifications", __name__, "/notifications")


@bp.app_template_global()
def unread_notifications() -> int:
    """The bell's number for the header, counted once per page."""
    if "unread_notifications" not in g:
        g.unread_notifications = services.unread_count(current_user) if current_user.is_authenticated else 0
    return g.unread_notifications


bp.add_app_template_global(sentence, "notification_text")


def _choices_from_form(allow_inherit: bool) -> dict[str, str | None] | None:
    """Each kind's choice as sent by the form, or None when a value is not one we offered."""
    choices = {}
    for kind in registry.notification_kinds():
        value = request.form.get(kind, "")
        if value == "" and allow_inherit:
            choices[kind] = None
        elif value in DELIVERIES:
            choices[kind] = value
        else:
            return None
    return choices


def _bad_choice():
    flash(_("Ce choix n'existe pas : rien n'a été changé."), "error")
    return 400


@bp.get("/notifications")
@login_required
def index():
    """Newest first; unread ones marked, each a link that marks it read."""
    page = paginate(services.visible(current_user).order_by(Notification.id.desc()), 30)
    spaces = {s.id: s for s in db.session.scalars(select(Space).where(Space.id.in_({n.space_id for n in page.items})))}
    return render_template(
        "notifications/index.html", page=page, spaces=spaces, unread=services.unread_count(current_user)
    )


def _read(notification_id: int) -> Notification:
    """Mark one of the caller's notifications read (404 for anyone else's) and return it."""
    notification = services.get_notification(current_user, notification_id)
    if notification is None:
        abort(404)
    services.mark_read(current_user, notification)
    db.session.commit()
    return notification


@bp.get("/notifications/<int:notification_id>/open")
@login_required
def open_notification(notification_id: int):
    notification = _read(notification_id)
    return redirect(
        notification.url if notification.url.startswith("/") and not notification.url.startswith("//") else "/"
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    _read(notification_id)
    return redirect(url_for("notifications.index", page=request.args.get("page", type=int) or None))


@bp.post("/notifications/read-all")
@login_required
def mark_all_read():
    count = services.mark_read(current_user)
    db.session.commit()
    flash(
        ngettext("%(num)s notification marquée comme lue.", "%(num)s notifications marquées comme lues.", count),
        "success",
    )
    return redirect(url_for("notifications.index"))


def _kind_labels() -> dict:
    """Each kind's question, in the order the preferences pages ask them."""
    return {name: kind.label for name, kind in registry.notification_kinds().items()}


def _labels():
    return {"kinds": _kind_labels(), "deliveries": DELIVERY_LABELS, "order": DELIVERIES}


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    """The person's choice for each kind, everywhere; links to each space's own settings."""
    status = 200
    if request.method == "POST":
        choices = _choices_from_form(allow_inherit=False)
        if choices is None:
            status = _bad_choice()
        else:
            services.save_preferences(current_user, None, choices)
            db.session.commit()
            flash(_("Vos préférences de notification sont enregistrées."), "success")
            return redirect(url_for("notifications.preferences"))
    chosen = services.preferences_of(current_user, None)
    current = {name: chosen[name] or kind.default for name, kind in registry.notification_kinds().items()}
    spaces = db.session.scalars(
        select(Space)
        .join(Membership, Membership.space_id == Space.id)
        .where(Membership.user_id == current_user.id, Space.archived_at.is_(None))
        .order_by(Space.name)
    ).all()
    return render_template(
        "notifications/preferences.html",
        current=current,
        spaces=spaces,
        has_email=bool(current_user.email),
        **_labels(),
    ), status


@space_bp.route("/", methods=["GET", "POST"])
def space_preferences():
    """The person's exceptions for this space; for its admins, the space's defaults too."""
    status = 200
    is_admin = g.space.can_manage(current_user)
    if request.method == "POST":
        target = request.form.get("scope", "mine")
        if target == "space":
            require(is_admin)
        choices = _choices_from_form(allow_inherit=True)
        if choices is None:
            status = _bad_choice()
        else:
            services.save_preferences(None if target == "space" else current_user, g.space, choices)
            db.session.commit()
            flash(
                _("Les réglages par défaut de l'espace sont enregistrés.")
                if target == "space"
                else _("Vos réglages pour cet espace sont enregistrés."),
                "success",
            )
            return redirect(url_for("space_notifications.space_preferences"))
    general = services.preferences_of(current_user, None)
    space_defaults = services.preferences_of(None, g.space)
    kinds = registry.notification_kinds()
    inherited = {k: general[k] or space_defaults[k] or kind.default for k, kind in kinds.items()}
    return render_template(
        "notifications/space_preferences.html",
        space=g.space,
        is_admin=is_admin,
        mine=services.preferences_of(current_user, g.space),
        inherited=inherited,
        space_defaults=space_defaults,
        server_defaults={k: kind.default for k, kind in kinds.items()},
        has_email=bool(current_user.email),
        **_labels(),
    ), status


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail programs post here without a form; the signed token is the proof
def unsubscribe(token: str):
    """A signed link from a mail: GET asks for confirmation, POST (a button, or the mail program) applies it."""
    forbid_caching()  # the address itself is the secret
    found = services.read_unsubscribe_token(token)
    if found is None:
        abort(404)
    user, kinds = found
    if request.method == "POST":
        services.stop_mails(user, kinds)
        db.session.commit()
        return render_template(
            "notifications/unsubscribe.html", done=True, kinds=kinds, token=token, labels=_kind_labels()
        )
    return render_template(
        "notifications/unsubscribe.html", done=False, kinds=kinds, token=token, labels=_kind_labels()
    )
