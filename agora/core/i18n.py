"""Language and time zone: the person's choice, then the browser's, then the server's default."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
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


def init_app(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: get_translations().ugettext(s),
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, plural_number(n)),
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, plural_number(n)),
    )

    @app.context_processor
    def inject_language():
        return {"current_language": str(get_locale() or app.config["DEFAULT_LANGUAGE"]), "languages": LANGUAGES}
