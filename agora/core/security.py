"""Security headers and proxy handling applied to every response."""
from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

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


def init_app(app: Flask) -> None:
    if app.config["PROXY_COUNT"]:
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_prefix=count)

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
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["HTTPS"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
