"""Where the database schema stands against the shipped migrations."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from agora.extensions import db


def _scripts() -> ScriptDirectory:
    migrate = current_app.extensions["migrate"]
    return ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))


def head_revision() -> str | None:
    """Return the latest migration id shipped with this version."""
    return _scripts().get_current_head()


def current_revision() -> str | None:
    """Return the migration id the database is at, or None for an empty database."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
