"""URL helpers."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, has_request_context, request
from werkzeug.routing import IntegerConverter

#: Ids beyond this do not exist: PostgreSQL's integer stops at 2**31 - 1.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in our routes: an id too large for the database is simply not found."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def to_id(value) -> int:
    """Coerce a form value to an id (0 for "none"); ValueError when it cannot be one."""
    number = int(str(value).strip() or 0)
    if not 0 <= number <= MAX_ID:
        raise ValueError("not an id")
    return number


def int_arg(name: str) -> int | None:
    """Return the query-string argument as a positive id, None when absent or not one."""
    raw = request.args.get(name, "")
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


def date_arg(name: str, *, month: bool = False) -> date | None:
    """Return the query-string argument as a date (YYYY-MM-DD; YYYY-MM gives the month's first day).

    None when absent; aborts with 400 when it is not a date, with 400 and a message saying which
    years may be asked for when it is outside them (past them, dates cannot be computed).
    """
    from agora.core.errors import abort_with
    from agora.core.time import DATE_RANGE_MESSAGE, is_supported

    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        value = datetime.strptime(raw, "%Y-%m").date() if month else date.fromisoformat(raw)
    except ValueError:
        abort(400)
    if not is_supported(value):
        abort_with(400, DATE_RANGE_MESSAGE)
    return value


def safe_next(target: str | None) -> str | None:
    """Return target when it is a path on this server, else None.

    Refuses absolute URLs, scheme-relative `//host` and backslash tricks browsers normalise.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def public_url(endpoint: str, **values) -> str:
    """Return the absolute address of endpoint on the configured public address (BASE_URL).

    Every link written into a mail or shown for copying goes through here: one built from the
    request would follow whatever Host header the client sent. Works outside a request too.
    """
    base = urlsplit(current_app.config["BASE_URL"])
    current_app.inject_url_defaults(endpoint, values)
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def secret_url(endpoint: str, **values) -> str:
    """public_url for a link that carries a secret: the page showing it is never stored by a cache."""
    from agora.core.security import forbid_caching

    forbid_caching()
    return public_url(endpoint, **values)


#: Values whose text never changes: a URL built from them can be kept.
_PLAIN = (str, int, float, date, type(None))


class AgoraFlask(Flask):
    """Flask, with the relative URLs of a request kept once built.

    A page builds about two hundred links (every post's reply, edit and reaction forms, the menus):
    werkzeug's builder, with its defaults and converters, was a tenth of a page's CPU. What a
    relative URL depends on is all in the key: the endpoint and its values, the anchor, the
    application's root (SCRIPT_NAME), the blueprint a ".name" resolves in, and the current space
    (the slug the space blueprints fill in). Anything else (external URLs, a scheme, a method, a
    value that is not plain text, a number or a date) goes the usual way. The store is bounded:
    past its size it starts again empty.
    """

    url_memo_size = 8192

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._url_memo: dict = {}
        self._folded_envs: dict = {}

    @property
    def jinja_env(self):
        """In a request, the templates of its language (see `templating.FoldedText`); else the plain ones.

        Each language gets an overlay of the one environment: the same filters, globals and
        loader, its own compiled templates, made on the first request that needs it. Outside a
        request (the command line, the background process) templates are rendered as written.
        """
        base = self.__dict__.get("_jinja_base")
        if base is None:
            base = self.__dict__["_jinja_base"] = self.create_jinja_environment()
        if not has_request_context():
            return base
        from flask_babel import get_locale, get_translations

        key = (str(get_locale()), request.script_root)
        env = self._folded_envs.get(key)
        if env is None:
            from agora.core.templating import FoldedText

            env = base.overlay(cache_size=400)  # its own cache: a copy of the base's would hold unfolded templates
            env.folded_for = (get_translations(), super().url_for("static", filename="icons.svg"))
            env.folded_static = self.static_folder
            env.add_extension(FoldedText)
            self._folded_envs[key] = env
        return env

    def url_for(self, endpoint, *, _anchor=None, _method=None, _scheme=None, _external=None, **values):
        if _method is None and _scheme is None and not _external and has_request_context():
            if all(isinstance(value, _PLAIN) for value in values.values()):
                space = g.get("space")  # not getattr: a missing attribute raises, and a page builds hundreds of links
                key = (
                    endpoint,
                    _anchor,
                    request.script_root,
                    request.blueprint if endpoint[:1] == "." else None,
                    space.slug if space is not None else None,
                    *values.items(),
                )
                url = self._url_memo.get(key)
                if url is None:
                    url = super().url_for(endpoint, _anchor=_anchor, **values)
                    if len(self._url_memo) >= self.url_memo_size:
                        self._url_memo.clear()
                    self._url_memo[key] = url
                return url
        return super().url_for(
            endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
        )
