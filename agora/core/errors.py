"""Error pages in the reader's language, each with a way back; a service's refusal ends the request here."""

from __future__ import annotations

import logging
from typing import NoReturn

import sqlalchemy.exc
from flask import Flask, g, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from agora.core.services import ServiceError
from agora.extensions import db, login_manager

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        _l("Requête invalide"),
        _l("La demande n'a pas pu être comprise. Vérifiez ce que vous avez saisi puis réessayez."),
    ),
    403: (_l("Accès refusé"), _l("Vous n'avez pas le droit de faire cette action.")),
    404: (_l("Page introuvable"), _l("Cette page n'existe pas ou vous n'y avez pas accès.")),
    405: (_l("Action impossible"), _l("Cette adresse ne permet pas cette action.")),
    413: (
        _l("Fichier trop volumineux"),
        _l("Ce que vous avez envoyé dépasse la taille autorisée de %(limit)s Mo. Essayez avec un fichier plus petit."),
    ),
    429: (
        _l("Trop de tentatives"),
        _l("Trop de tentatives en peu de temps. Patientez quelques minutes puis réessayez."),
    ),
    500: (
        _l("Erreur du serveur"),
        _l("Une erreur inattendue s'est produite. Rien n'a été enregistré ; réessayez dans un moment."),
    ),
    503: (
        _l("Service momentanément indisponible"),
        _l(
            "Le serveur est très occupé ou sa base de données ne répond pas. Rien n'a été enregistré ; réessayez dans une minute."
        ),
    ),
}


def abort_with(code: int, message) -> NoReturn:
    """Stop the request with this status and a message of our own on the error page."""
    error = default_exceptions[code]()
    error.agora_message = str(message)
    raise error


def render_error(code: int, message: str | None = None):
    """Return the error page response for an HTTP status code."""
    from flask import current_app

    title, default = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    text = message or str(default)
    if code == 413 and not message:
        text = text % {"limit": current_app.config["MAX_UPLOAD_MB"]}
    return render_template("errors/error.html", code=code, title=title, message=text), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        db.session.rollback()
        return render_error(
            400, str(_l("Le formulaire a expiré ou n'est pas valide. Rechargez la page puis réessayez."))
        )

    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        """A service's refusal that the view did not show next to a form: nothing is kept, the page says why."""
        db.session.rollback()
        return render_error(error.status, str(error.message))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        if error.code is None or error.code < 400:
            return error
        response, code = render_error(error.code, getattr(error, "agora_message", None))
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        return response, code, headers

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.InterfaceError)
    @app.errorhandler(sqlalchemy.exc.TimeoutError)
    def database_unavailable(error):
        """The database is locked too long, restarting or unreachable: say so, change nothing, recover by itself."""
        log.warning("database unavailable: %s", str(getattr(error, "orig", None) or error).splitlines()[0][:200])
        try:
            db.session.rollback()
        except sqlalchemy.exc.SQLAlchemyError:
            db.session.invalidate()
        # The page must not need the database: shown as to a visitor, with an empty bell.
        g._login_user = login_manager.anonymous_user()
        g.unread_notifications = 0
        response, code = render_error(503)
        return response, code, {"Retry-After": "30"}

    @app.errorhandler(InternalServerError)
    def server_error(error):
        db.session.rollback()
        return render_error(500)
