"""ids never reused: SQLite tables keyed by an integer id get AUTOINCREMENT

Without it SQLite gives the next row the id of the last deleted one, so an old address, mail or
reference (a purged document, a deleted event named by a notification) could open another item.
PostgreSQL sequences never go back: nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:40:00
"""

import re

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID_COLUMN = re.compile(r"^(\s*)id INTEGER NOT NULL,", re.MULTILINE)
KEY = re.compile(r",\s*CONSTRAINT \w+ PRIMARY KEY \(id\)(?=\s*[,)])")
HEAD = re.compile(r'^CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)"?')


def _rebuild(conn, name: str, sql: str) -> None:
    """SQLite's documented way to change a table: create the new shape, copy, drop, rename, re-index.

    Runs with foreign keys off (migrations/env.py), so dropping the old copy deletes nothing else.
    """
    new_sql, found = ID_COLUMN.subn(r"\1id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", sql, count=1)
    new_sql, keys = KEY.subn("", new_sql, count=1)
    if not (found and keys):
        raise RuntimeError(f"table {name}: unexpected definition, cannot add AUTOINCREMENT")
    temporary = f"_rebuild_{name}"
    new_sql = HEAD.sub(f'CREATE TABLE "{temporary}"', new_sql, count=1)
    indexes = [
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (name,)
        )
    ]
    conn.exec_driver_sql(new_sql)
    conn.exec_driver_sql(f'INSERT INTO "{temporary}" SELECT * FROM "{name}"')
    conn.exec_driver_sql(f'DROP TABLE "{name}"')
    conn.exec_driver_sql(f'ALTER TABLE "{temporary}" RENAME TO "{name}"')
    for index in indexes:
        conn.exec_driver_sql(index)


def upgrade():
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    tables = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name != 'alembic_version' ORDER BY name"
    ).all()
    for name, sql in tables:
        if "AUTOINCREMENT" in sql or not ID_COLUMN.search(sql):
            continue  # already done, or not keyed by an integer id (login throttles)
        _rebuild(conn, name, sql)


def downgrade():
    # AUTOINCREMENT only stops SQLite from handing out old ids again; the earlier schema works with it.
    pass
