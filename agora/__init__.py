"""Agora: a collaborative workspace server for neighbourhoods."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder of templates/, static/ or migrations/.

    In a wheel they are shipped inside the package; in a source checkout they sit beside it.
    """
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


def create_app(config: Mapping[str, Any] | None = None, *, migrations: bool = True) -> Flask:
    """Build the application. Touches no database, asks nothing, creates no folder. Without
    `migrations` (the server), the schema commands and Alembic are left out.

    Raises ConfigError when the configuration cannot work (for example, no secret key).
    """
    from agora.config import ConfigError, load_settings
    from agora.core import errors, events, i18n, references, security, templating, writegate  # noqa: F401 (events, references, writegate: listeners)
    from agora.core.urls import AgoraFlask
    from agora.extensions import babel, csrf, db, init_migrations, login_manager
    from agora.spaces import tenancy

    settings = load_settings(config)
    app = AgoraFlask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("static")),
    )
    app.config.update(settings)
    from agora.core.urls import IdConverter

    app.url_map.converters["int"] = IdConverter
    if not app.config["SECRET_KEY"]:
        if not (app.debug or app.testing):
            raise ConfigError("No secret key is configured: run `agora init` or set AGORA_SECRET_KEY.")

    db.init_app(app)
    if migrations:
        init_migrations(app, str(resource_dir("migrations")))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=i18n.select_timezone,
        default_translation_directories=str(PACKAGE_DIR / "translations"),
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    security.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    templating.init_app(app)
    tenancy.init_app(app)
    from agora.documents import storage

    storage.init_app(app)
    from agora.core import jobs
    from agora.search import indexing

    jobs.init_app(app)
    indexing.init_app(app)

    from agora.core.registry import EXTENSION
    from agora.modules import MODULES

    app.extensions[EXTENSION] = MODULES
    app.jinja_env.globals["space_modules"] = MODULES
    for module in MODULES:
        for blueprint in module.blueprints:
            app.register_blueprint(blueprint)
    return app
