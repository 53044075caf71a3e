"""Starting a logged-in session: shared by the login form, password links and joining a space."""

from __future__ import annotations

from flask import request, session
from flask_login import login_user

from agora.auth import services
from agora.auth.models import User


def start_session(user: User, remember: bool = False) -> None:
    """Log user in on a fresh session and a new login (nothing from before carries over but the language)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    services.open_login(user, remember=remember, user_agent=request.headers.get("User-Agent"))
    login_user(user, remember=remember)
