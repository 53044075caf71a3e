"""Flask extensions, created unbound here and bound to the app in create_app."""

import sqlite3

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Integer, MetaData, Table, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

#: Constraint names are deterministic so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@event.listens_for(Table, "after_parent_attach")
def _ids_never_reused(table: Table, _metadata) -> None:
    """On SQLite, a table keyed by an integer id gets AUTOINCREMENT: without it SQLite hands the id of the
    last deleted row to the next one, and an old link, mail or reference would open someone else's item.
    (PostgreSQL sequences never go back.) Migrations pass `sqlite_autoincrement=True` to the tables they
    create (a test checks the migrated schema)."""
    key = list(table.primary_key.columns)
    if len(key) == 1 and isinstance(key[0].type, Integer) and not key[0].foreign_keys:
        table.dialect_options["sqlite"]["autoincrement"] = True


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


#: How long a statement waits for a lock another connection holds before it gives up (the
#: request then gets the 503 page and changes nothing).
LOCK_WAIT_MS = 10_000


@event.listens_for(Engine, "connect")
def _configure_connection(dbapi_connection, connection_record):
    """Every connection: SQLite gets WAL, enforced foreign keys, its lock wait and zeroed deletions; PostgreSQL its lock wait."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        if type(dbapi_connection).__module__.startswith("psycopg"):
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {int(LOCK_WAIT_MS)}")
            dbapi_connection.commit()
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_MS)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted and rewritten rows leave no old bytes behind in the file (anonymous ballots rely on it).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def init_migrations(app, directory: str) -> None:
    """Flask-Migrate, for the commands and tests that change the schema (`app.extensions["migrate"]`).
    `agora serve` goes without: Alembic and Mako under it are about 10 MB in every server process."""
    from flask_migrate import Migrate

    Migrate(compare_type=True, render_as_batch=True).init_app(app, db, directory=directory)
