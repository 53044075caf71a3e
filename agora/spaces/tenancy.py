"""Space scoping: one guard for every page under /s/<slug>/, `membership_in`, and the SpaceScoped mixin.

Every feature's pages live on a blueprint made by `space_blueprint`, which loads the space and
the caller's membership into `g` before any view runs. No membership, an archived space or a
switched-off module gives 404: a stranger learns nothing, not even that the space exists.
"""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Flask, abort, g, request
from flask_login import current_user
from sqlalchemy import ForeignKey, bindparam, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from agora.extensions import db


class SpaceScoped:
    """Mixin for tables owned by a space; deleting the space deletes their rows."""

    @declared_attr
    def space_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True, nullable=False)


@cache
def _membership_statement():
    """Asked on every page of a space: built once (see auth.services._LIVE_LOGIN), on first use
    since the models import this module."""
    from agora.spaces.models import Membership

    return select(Membership).where(
        Membership.space_id == bindparam("space_id"), Membership.user_id == bindparam("user_id")
    )


def membership_in(user, space):
    """Return user's membership of space (cached on the user object for the request), or None."""
    found = user.__dict__.setdefault("_membership_cache", {})
    if space.id not in found:
        found[space.id] = db.session.scalar(_membership_statement(), {"space_id": space.id, "user_id": user.id})
    return found[space.id]


def _pull_slug(endpoint, values):
    g.slug = values.pop("slug", "") if values else ""


def _load_space():
    from agora.extensions import login_manager
    from agora.spaces.models import MODULES
    from agora.spaces.services import get_space_by_slug

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    space = get_space_by_slug(g.slug)
    if space is not None and space.is_archived and membership_in(current_user, space) is not None:
        abort(_archived_page(space))
    if space is None or not space.can_view(current_user):
        abort(404)
    g.space = space
    g.membership = membership_in(current_user, space)
    if request.blueprint in MODULES and not space.has_module(request.blueprint):
        abort(404)


def _archived_page(space):
    """Tell a member of an archived space that it is archived, since when, and whom to ask (its
    admins); strangers still get 404 before this."""
    from flask import make_response, render_template

    from agora.auth.models import User
    from agora.spaces.models import Membership

    admins = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.space_id == space.id, Membership.role == "admin")
        .order_by(User.display_name, User.id)
    ).all()
    return make_response(render_template("spaces/archived.html", space=space, admins=admins), 410)


def space_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """Return a blueprint whose pages live under /s/<slug><url_prefix> behind the space guard."""
    bp = Blueprint(name, import_name, url_prefix=f"/s/<slug>{url_prefix}")
    bp.url_value_preprocessor(_pull_slug)
    bp.before_request(_load_space)
    return bp


def require(allowed: bool) -> None:
    """Refuse with 403 when the caller, a member of the space, may not do this."""
    if not allowed:
        abort(403)


def init_app(app: Flask) -> None:
    @app.url_defaults
    def add_slug(endpoint, values):
        """Inside a space, url_for fills <slug> with the current space."""
        if "slug" in values or g.get("space") is None:
            return
        if app.url_map.is_endpoint_expecting(endpoint, "slug"):
            values["slug"] = g.space.slug
