"""Where the database schema stands against the shipped migrations.

Read without Alembic: `agora serve` checks it before its workers fork, and Alembic (with Mako
under it) would then stay in the memory of every server process, about 10 MB. The migrations
form one line, each file naming its `revision` and its `down_revision`; a test checks that this
reading agrees with Alembic's.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect, text

from agora.extensions import db

_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:["']([^"']*)["']|None)""", re.MULTILINE)


def head_revision(folder: Path) -> str | None:
    """Return the latest migration id in this migrations folder (`resource_dir("migrations")`: those
    shipped with this version): the one no other follows."""
    revisions, followed = set(), set()
    for path in sorted(folder.joinpath("versions").glob("*.py")):
        found = dict((name, value or None) for name, value in _REVISION.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision"):
                followed.add(found["down_revision"])
    heads = revisions - followed
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {sorted(heads)}")
    return next(iter(heads), None)


def current_revision() -> str | None:
    """Return the migration id the database is at, or None for an empty database."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
