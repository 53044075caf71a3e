"""Security headers, host and proxy handling, and secrets shown once, applied to every request."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta

from flask import Flask, Response, abort, current_app, g, has_request_context, make_response, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from agora.core.time import utcnow

#: No page uses the camera, the microphone or the position...
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"
#: ...but a page with a voice recorder uses the microphone, itself (never a frame in it).
MICROPHONE_POLICY = "camera=(), microphone=(self), geolocation=()"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

log = logging.getLogger(__name__)

#: Endpoints that answer whatever the Host header: a load balancer probes by address, and the
#: answer holds no link and nothing private.
ANY_HOST_ENDPOINTS = frozenset({"core.healthz"})

#: How many freshly made secret links the session keeps, and for how long, to show them again on reload.
KEPT_SECRETS = 5
KEPT_SECRET_LIFETIME = timedelta(hours=1)


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Return True when the Host value (with or without a port) names one of the allowed hosts.

    A name starting with "." admits that domain and its subdomains.
    """
    host = host.strip().lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else ""
    else:
        name = host.partition(":")[0]
    if not name:
        return False
    for ref in allowed:
        if ref.startswith("."):
            if name == ref[1:] or name.endswith(ref):
                return True
        elif name == ref:
            return True
    return False


def recorder_page(html: str, status: int = 200, *, may_record: bool) -> Response:
    """The response of a page with a voice recorder: the microphone is allowed to it only when the
    person may send what it records (MICROPHONE_POLICY); otherwise it stays off, as everywhere."""
    response = make_response(html, status)
    if may_record:
        response.headers["Permissions-Policy"] = MICROPHONE_POLICY
    return response


def forbid_caching() -> None:
    """Mark the current response `Cache-Control: no-store` (it shows a secret, or is reached through one)."""
    if has_request_context():
        g.no_store = True


def _now() -> int:
    return int(utcnow().timestamp())


def _fernet():
    from cryptography.fernet import Fernet  # imported on first use: few pages keep secrets

    key = hashlib.sha256(b"agora.kept-secrets\x00" + current_app.config["SECRET_KEY"].encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def keep_secret(key: str, raw: str) -> None:
    """Keep a just-made secret link in the session, encrypted, so that its page survives a reload.

    The session cookie is only signed: anyone holding it can read it, so the secret goes in encrypted
    with a key derived from the server's secret key, and is forgotten after KEPT_SECRET_LIFETIME.
    """
    kept = dict(session.get("secrets", {}))
    kept.pop(key, None)
    kept[key] = _fernet().encrypt_at_time(raw.encode("utf-8"), _now()).decode("ascii")
    session["secrets"] = dict(list(kept.items())[-KEPT_SECRETS:])


def kept_secret(key: str) -> str | None:
    """Return the secret kept under key by keep_secret, None when there is none or it is too old."""
    from cryptography.fernet import InvalidToken

    token = session.get("secrets", {}).get(key)
    if not isinstance(token, str):
        return None
    try:
        raw = _fernet().decrypt_at_time(token.encode("ascii"), int(KEPT_SECRET_LIFETIME.total_seconds()), _now())
    except (InvalidToken, ValueError):
        return None
    forbid_caching()
    return raw.decode("utf-8")


def init_app(app: Flask) -> None:
    if app.config["PROXY_COUNT"]:
        count = int(app.config["PROXY_COUNT"])
        # The client's own X-Forwarded-Host and X-Forwarded-Prefix pass through a proxy that does not
        # overwrite them (the README's nginx example does not): trusted only when asked for.
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=count,
            x_proto=count,
            x_host=count if app.config["PROXY_FORWARDED_HOST"] else 0,
            x_prefix=0,
        )

    @app.before_request
    def refuse_other_hosts():
        """A request for a host that is not ours is refused before anything reads it (DNS rebinding, poisoned links)."""
        if request.endpoint in ANY_HOST_ENDPOINTS:
            return
        if not host_allowed(request.host, app.config["ALLOWED_HOSTS"]):
            if not app.extensions.get("agora.host_refusal_logged"):  # once: scanners send any host
                app.extensions["agora.host_refusal_logged"] = True
                log.warning(
                    "refused a request for host %r: this server answers for %s (set AGORA_BASE_URL, "
                    "or AGORA_ALLOWED_HOSTS)",
                    request.host[:100],
                    ", ".join(app.config["ALLOWED_HOSTS"]),
                )
            abort(400)

    @app.before_request
    def refuse_nul_bytes():
        """A NUL byte is never meaningful text, and PostgreSQL refuses it: answer 400 up front."""
        for values in (request.args, request.form):
            for value in values.values():
                if "\x00" in value:
                    abort(400)

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if app.config["HTTPS"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if g.get("no_store"):
            headers["Cache-Control"] = "no-store"
            headers.pop("ETag", None)
        return response
