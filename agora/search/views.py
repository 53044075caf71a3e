"""The search page: /search?q=..., across my spaces, or one space (space=slug), or one module."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from agora.core.pagination import page_number
from agora.core.services import ServiceError
from agora.search import services
from agora.spaces.services import get_space_by_slug

bp = Blueprint("search", __name__)


@bp.get("/search")
@login_required
def search():
    text = request.args.get("q", "")
    slug, module = request.args.get("space", ""), request.args.get("module", "")
    spaces = services.viewable_spaces(current_user)
    space = get_space_by_slug(slug) if slug else None
    if slug and (space is None or space.id not in spaces):
        space, slug = None, ""  # not one of mine: search them all, say nothing of it
    module = module if module in services.module_labels() else ""
    page, error, status = None, None, 200
    if "q" in request.args:
        try:
            page = services.search(
                current_user, text, space=space, module=module or None, number=page_number(), spaces=spaces
            )
        except ServiceError as exc:
            error, status = str(exc.message), exc.status
    return render_template(
        "search/results.html",
        q=text,
        page=page,
        error=error,
        spaces=sorted(spaces.values(), key=lambda s: s.name),
        slug=slug,
        module=module,
        modules=services.module_labels(),
    ), status
