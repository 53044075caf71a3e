"""Server-wide pages: health check, accessibility statement and language choice."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, session
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from agora.config import LANGUAGES
from agora.core.urls import safe_next
from agora.extensions import csrf, db

bp = Blueprint("core", __name__)


@bp.get("/healthz")
@csrf.exempt
def healthz():
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/accessibilite")
def accessibility():
    """The accessibility statement, written in the shape of an RGAA declaration."""
    return render_template("core/accessibility.html")


@bp.post("/language")
def set_language():
    """Remember the language chosen in the footer, then go back where the person was."""
    code = request.form.get("language", "")
    if code not in LANGUAGES:
        abort(400)
    session["lang"] = code
    return redirect(safe_next(request.form.get("next")) or "/")
