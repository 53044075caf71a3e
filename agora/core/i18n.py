"""Language and time zone: the person's choice, then the browser's, then the server's default."""

from __future__ import annotations

from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import get_locale, get_translations
from flask_login import current_user

from agora.config import LANGUAGES


def select_locale() -> str:
    """Return the language code for this request (the default outside a request, e.g. the CLI)."""
    if not has_request_context():
        return current_app.config["DEFAULT_LANGUAGE"]
    user = current_user
    if user and user.is_authenticated and getattr(user, "language", None) in LANGUAGES:
        return user.language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or current_app.config["DEFAULT_LANGUAGE"]


def select_timezone() -> str:
    """Return the time zone name in which this request shows times."""
    if not has_request_context():
        return current_app.config["DEFAULT_TIMEZONE"]
    user = current_user
    if user and user.is_authenticated and getattr(user, "timezone", None):
        return user.timezone
    return current_app.config["DEFAULT_TIMEZONE"]


def plural_number(num) -> int:
    """The number that picks a template's singular or plural: French, the language the strings are
    written in, says « 0 réponse » where gettext's untranslated rule would say « 0 réponses »."""
    language = getattr(get_locale(), "language", None)
    return 1 if language == "fr" and isinstance(num, int) and abs(num) < 2 else num


def _template_gettext(app: Flask) -> None:
    """Give templates gettext callables that find the request's catalogue in one step.

    Flask-Babel's own look the locale and the domain up again for every string (~10 µs, 150-300
    strings a page). These read the locale the request already chose (so `force_locale`, which
    changes it for a mail, still applies) and keep one catalogue per locale: as many as there
    are languages."""
    catalogues: dict = {}

    def translations():
        # Flask-Babel keeps the chosen locale in g._flask_babel (force_locale swaps it there).
        locale = getattr(getattr(g, "_flask_babel", None), "babel_locale", None) if has_app_context() else None
        if locale is None:
            return get_translations()
        found = catalogues.get(locale)
        if found is None:
            found = catalogues[locale] = get_translations()
        return found

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, plural_number(n)),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, plural_number(n)),
        newstyle=True,
    )


def init_app(app: Flask) -> None:
    _template_gettext(app)

    @app.context_processor
    def inject_language():
        return {"current_language": str(get_locale() or app.config["DEFAULT_LANGUAGE"]), "languages": LANGUAGES}
