"""Template filters and helpers every page may use."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale, dates
from flask import Flask, current_app, g, request, url_for
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_time,
    get_locale,
    ngettext,
    to_user_timezone,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup, escape

ROLE_LABELS = {"admin": _l("Administrateur"), "member": _l("Membre"), "reader": _l("Lecteur")}


def human_size(size: int) -> str:
    """A file size in the reader's words: « 1,5 Mo », « 820 Ko »."""
    if size < 1024:
        return ngettext("%(num)s octet", "%(num)s octets", size)
    # One unit translated, not three: this runs on every row of a folder.
    for factor in (1024, 1024**2, 1024**3):
        value = size / factor
        if round(value) < 1024 or factor == 1024**3:
            unit = _("Ko") if factor == 1024 else _("Mo") if factor == 1024**2 else _("Go")
            return f"{format_decimal(round(value, 1 if value < 100 else 0))}\u00a0{unit}"
    return str(size)


def _fits_reader_zone(value: datetime) -> bool:
    """False for a moment the reader's zone would take past year 1 or 9999: it is shown in UTC."""
    try:
        to_user_timezone(value)
    except OverflowError:
        return False
    return True


#: Pattern letters that print a time zone: their output needs Babel's full path.
_ZONE_LETTERS = frozenset("zZvVOXx")


@lru_cache(maxsize=32)
def _datetime_patterns(locale: Locale, style: str):
    """(how date and time are joined, date pattern, time pattern) for a locale and a style, or None
    when the time pattern prints a zone. Babel looks these up again on every call."""
    try:
        date_pattern, time_pattern = dates.get_date_format(style, locale), dates.get_time_format(style, locale)
        joiner = dates.get_datetime_format(style, locale).replace("'", "")
    except (KeyError, ValueError):
        return None
    if _ZONE_LETTERS & set(time_pattern.pattern):
        return None
    return joiner, date_pattern, time_pattern


def when(value: datetime | None, style: str = "short") -> str:
    """A timestamp in the reader's language and time zone (as Flask-Babel's format_datetime writes it,
    in a third of its time: shown next to every post and file, it ran hundreds of times a page)."""
    if not value:
        return ""
    locale = get_locale()
    patterns = _datetime_patterns(locale, style) if locale is not None else None
    if patterns is not None:
        try:
            local = to_user_timezone(value)
        except OverflowError:
            pass
        else:
            joiner, date_pattern, time_pattern = patterns
            return joiner.replace("{0}", time_pattern.apply(local, locale)).replace(
                "{1}", date_pattern.apply(local, locale)
            )
    rebase = _fits_reader_zone(value)
    return format_datetime(value, style, rebase=rebase) + ("" if rebase else " UTC")


def when_time(value: datetime) -> str:
    """Hours and minutes in the reader's zone."""
    rebase = _fits_reader_zone(value)
    return format_time(value, "short", rebase=rebase) + ("" if rebase else " UTC")


def when_long(value: datetime) -> str:
    """Day and time, spelt out: « mardi 8 décembre 2026, 18:00 »."""
    rebase = _fits_reader_zone(value)
    return f"{format_date(value, 'full', rebase=rebase)}, {format_time(value, 'short', rebase=rebase)}" + (
        "" if rebase else " UTC"
    )


@cache
def icon_names(static_folder: str) -> frozenset[str]:
    """The symbols of static/icons.svg (built by scripts/icons/build.py)."""
    return frozenset(re.findall(r'<symbol id="([a-z-]+)"', (Path(static_folder) / "icons.svg").read_text()))


def icon(name: str, class_: str = "") -> Markup:
    """An icon of the sprite, hidden from screen readers: the words beside it say what it means.

    Raises KeyError for a name the sprite lacks, so a typo fails the page's test instead of
    showing an empty box. A page shows dozens of icons: each is written once per process.
    """
    sprite = g.get("icon_sprite")
    if sprite is None:
        sprite = g.icon_sprite = url_for("static", filename="icons.svg")
    return _icon_markup(sprite, current_app.static_folder, name, class_)


@lru_cache(maxsize=512)
def _icon_markup(sprite: str, static_folder: str, name: str, class_: str) -> Markup:
    if name not in icon_names(static_folder):
        raise KeyError(f"no icon {name!r} in static/icons.svg")
    return Markup('<svg class="icon{}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>').format(
        Markup(" ") + escape(class_) if class_ else "", sprite + "#" + name
    )


class FoldedText(Extension):
    """Compile `{{ _("…") }}` and `{{ icon("…") }}` with literal arguments into the text they give.

    A page asks for a few hundred strings and icons, each a call through Jinja's context (~5 µs):
    a tenth of a page's CPU for text that only depends on the language and the site's address.
    A template is compiled once per language (see `AgoraFlask.jinja_env`), the environment says
    which in `folded_for = (translations, icon_sprite)`. Anything else (a string with variables, a
    filter after the call, `ngettext`, an icon whose name is computed) stays a call. Icons marked
    « simple-only » are written for everyone: the style sheet shows them in mode simple only.
    """

    def filter_stream(self, stream: TokenStream):
        translations, sprite = self.environment.folded_for
        window: list[Token] = []
        for token in stream:
            window.append(token)
            if token.type == "variable_end" and window[0].type == "variable_begin":
                text = self._fold(window[1:-1], translations, sprite)
                if text is not None:
                    window = [Token(window[0].lineno, "data", text)]
            if window[0].type != "variable_begin" or len(window) > 8 or token.type == "variable_end":
                yield from window
                window = []
        yield from window

    def _fold(self, inner: list[Token], translations, sprite: str) -> str | None:
        if len(inner) < 4 or inner[0].type != "name" or inner[1].type != "lparen" or inner[-1].type != "rparen":
            return None
        arguments = inner[2:-1]
        if any(t.type != "string" for t in arguments[::2]) or any(t.type != "comma" for t in arguments[1::2]):
            return None
        values = [t.value for t in arguments[::2]]
        if inner[0].value == "_" and len(values) == 1:
            # What Jinja's newstyle gettext returns: the translation as markup, always %-formatted.
            return str(Markup(translations.ugettext(values[0])) % {})
        if inner[0].value == "icon" and len(values) in (1, 2):
            return str(_icon_markup(sprite, self.environment.folded_static, values[0], values[1] if values[1:] else ""))
        return None


def init_app(app: Flask) -> None:
    from agora.core.time import utcnow

    app.add_template_filter(human_size, "size")
    app.add_template_global(utcnow, "now_utc")
    app.add_template_global(icon, "icon")

    app.add_template_filter(when, "when")
    app.add_template_filter(when_time, "when_time")
    app.add_template_filter(when_long, "when_long")

    @app.template_filter("day_label")
    def day_label(value) -> str:
        return format_date(value, "full")

    @app.template_filter("day")
    def day(value: datetime) -> str:
        """The day of a timestamp, in the reader's zone: « 2 déc. 2026 »."""
        return format_date(value, "medium", rebase=_fits_reader_zone(value))

    @app.template_filter("email")
    def email(address: str) -> Markup:
        """An e-mail address that wraps after its « @ » if it must, not at a hyphen of its domain."""
        local, at, domain = address.partition("@")
        return Markup('<span class="email-part">{}{}</span><wbr><span class="email-part">{}</span>').format(
            local, at, domain
        )

    @app.template_filter("month_label")
    def month_label(value) -> str:
        return format_date(value, "LLLL yyyy")

    @app.template_global()
    def weekday_names() -> list[tuple[str, str]]:
        """(short, full) weekday names, Monday first, in the reader's language."""
        locale = get_locale()
        short, full = locale.days["format"]["abbreviated"], locale.days["format"]["wide"]
        return [(short[d], full[d]) for d in range(7)]

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
