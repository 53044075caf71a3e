"""Language and time zone: the person's choice, then the browser's, then the server's default."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale
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


def init_app(app: Flask) -> None:
    @app.context_processor
    def inject_language():
        return {"current_language": str(get_locale() or app.config["DEFAULT_LANGUAGE"]), "languages": LANGUAGES}
