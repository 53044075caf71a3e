"""Template filters and helpers every page may use."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, request, url_for
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

ROLE_LABELS = {"admin": _l("Administrateur"), "member": _l("Membre"), "reader": _l("Lecteur")}


def init_app(app: Flask) -> None:
    @app.template_filter("when")
    def when(value: datetime | None, style: str = "short") -> str:
        """A timestamp in the reader's language and time zone."""
        return format_datetime(value, style) if value else ""

    @app.template_filter("role_label")
    def role_label(role: str) -> str:
        return str(ROLE_LABELS.get(role, role))

    @app.template_global()
    def page_url(number: int) -> str:
        """The current page's address with another page number, other filters kept."""
        view_args = request.view_args or {}
        # Only plain filters are kept: nothing that would clash with the route or url_for itself.
        args = {k: v for k, v in request.args.items() if k not in view_args and k != "slug" and not k.startswith("_")}
        args["page"] = number
        return url_for(request.endpoint, **view_args, **args)
