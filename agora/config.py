"""Configuration: defaults, then instance/agora.toml, then AGORA_* variables, then the mapping given."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A configuration that cannot work; the message is one sentence for the operator."""


#: Settings an operator may change. Each is read from agora.toml (lower or upper case key)
#: and from the environment as AGORA_<NAME>; the type of the default decides the parsing.
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": "",
    "DATABASE_URL": "",
    "SITE_NAME": "Agora",
    #: The public address. Every absolute link (mails, links to copy, QR codes) is built from it,
    #: never from the Host header a client sent.
    "BASE_URL": "http://127.0.0.1:8000",
    #: Host names this server answers to, comma separated ("." before a name admits its subdomains).
    #: Empty: the host of BASE_URL, plus the loopback names. Other hosts get 400 (but /healthz).
    "ALLOWED_HOSTS": "",
    "DEFAULT_LANGUAGE": "fr",
    "DEFAULT_TIMEZONE": "Europe/Paris",
    "MAX_UPLOAD_MB": 64,
    "HTTPS": False,
    "PROXY_COUNT": 0,
    #: Take the host from the proxy's X-Forwarded-Host: only when the proxy sets that header itself
    #: (nginx's `proxy_set_header Host $host` needs nothing of the kind).
    "PROXY_FORWARDED_HOST": False,
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_SECURITY": "",
    "SMTP_FROM": "agora@localhost",
    #: Failed logins for one account from one address before that pair waits LOGIN_LOCK_MINUTES.
    "LOGIN_MAX_FAILURES": 5,
    #: Failed logins from one address, whatever the accounts (a social centre shares one address).
    "LOGIN_MAX_ADDRESS_FAILURES": 20,
    #: Failed logins for one account from all addresses: past it, only addresses that never failed
    #: for this account may still try (its owner elsewhere keeps getting in).
    "LOGIN_MAX_ACCOUNT_FAILURES": 20,
    "LOGIN_LOCK_MINUTES": 15,
    #: A login (with or without "stay logged in") ends this many days after it began.
    "SESSION_DAYS": 30,
    #: Run background jobs (search indexing...) at the end of the request that enqueued them, for
    #: tests and a development server without `agora serve`'s background process. Off in production:
    #: requests never wait for them.
    "JOBS_RUN_INLINE": False,
    #: Read positions and visits are written this long after the page that moved them, many in one
    #: transaction (agora.core.markers); 0: by the request itself (tests).
    "MARKER_DELAY_MS": 500,
    #: The search engine (agora.search.backend.BACKENDS): "whoosh", embedded indexes in the instance folder.
    "SEARCH_BACKEND": "whoosh",
}

CONFIG_FILE_NAMES = ("agora.toml", "agora.cfg")
LANGUAGES = ("fr", "en")


def instance_path(mapping: Mapping[str, Any] | None = None) -> Path:
    """Return the absolute instance folder: the mapping's INSTANCE_PATH, AGORA_INSTANCE or ./instance."""
    raw = (mapping or {}).get("INSTANCE_PATH") or os.environ.get("AGORA_INSTANCE") or "instance"
    return Path(raw).expanduser().resolve()


def _parse(name: str, raw: str) -> Any:
    default = DEFAULTS[name]
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"AGORA_{name} must be true or false, not {raw!r}.")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"AGORA_{name} must be a whole number, not {raw!r}.") from None
    return raw


def allowed_hosts(raw: Any, base_url: str) -> list[str]:
    """Return the host names to answer to: the list given (comma separated or a list), else BASE_URL's and loopback.

    Raises ConfigError when BASE_URL has no host.
    """
    items = raw if isinstance(raw, (list, tuple)) else str(raw or "").split(",")
    hosts = [item.strip().lower() for item in items if str(item).strip()]
    if hosts:
        return hosts
    host = urlsplit(base_url).hostname
    if not host:
        raise ConfigError(f"BASE_URL must be an absolute address such as https://agora.example.org, not {base_url!r}.")
    # Loopback names cannot be reached from someone else's page: the server's own checks may use them.
    return list(dict.fromkeys([host, "localhost", "127.0.0.1", "[::1]"]))


def read_config_file(folder: Path) -> dict[str, Any]:
    """Return the settings of the instance config file, or {} when there is none."""
    for name in CONFIG_FILE_NAMES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
        except OSError as exc:
            raise ConfigError(f"{path} cannot be read: {exc.strerror}.") from None
        return {key.upper(): value for key, value in data.items()}
    return {}


def load_settings(mapping: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults, the instance config file, AGORA_* variables and the mapping, in that order.

    Returns a dict of Flask config keys. Raises ConfigError on a value that cannot be parsed.
    """
    mapping = dict(mapping or {})
    environ = os.environ if environ is None else environ
    folder = instance_path(mapping)
    settings: dict[str, Any] = dict(DEFAULTS)
    settings.update(read_config_file(folder))
    for name in DEFAULTS:
        if f"AGORA_{name}" in environ:
            settings[name] = _parse(name, environ[f"AGORA_{name}"])
    settings.update(mapping)
    settings["INSTANCE_PATH"] = str(folder)

    if settings["DEFAULT_LANGUAGE"] not in LANGUAGES:
        raise ConfigError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}.")
    settings["ALLOWED_HOSTS"] = allowed_hosts(settings["ALLOWED_HOSTS"], settings["BASE_URL"])
    settings.setdefault("SQLALCHEMY_DATABASE_URI", settings["DATABASE_URL"] or f"sqlite:///{folder / 'agora.db'}")
    settings.setdefault("MAX_CONTENT_LENGTH", int(settings["MAX_UPLOAD_MB"]) * 1024 * 1024)
    settings.setdefault("SESSION_COOKIE_SECURE", bool(settings["HTTPS"]))
    settings.setdefault("REMEMBER_COOKIE_SECURE", bool(settings["HTTPS"]))
    settings.setdefault("PREFERRED_URL_SCHEME", "https" if settings["HTTPS"] else "http")
    settings.setdefault("SESSION_COOKIE_HTTPONLY", True)
    settings.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    settings.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    settings.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=int(settings["SESSION_DAYS"])))
    settings.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    settings.setdefault("SESSION_COOKIE_NAME", "agora_session")
    settings.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    settings.setdefault("BABEL_DEFAULT_LOCALE", settings["DEFAULT_LANGUAGE"])
    settings.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    settings.setdefault("WTF_CSRF_TIME_LIMIT", None)
    return settings
