"""titles and names lose their bidi overrides and other invisible format characters

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:40:00

Titles and names are now cleaned when written (agora.core.services.one_line); this cleans the
rows written before. A right-to-left override made "Council <RLO>evitceffe<PDF> news" read
"Council effective news". A name that, cleaned, would equal another one in the same place
(unique constraint) is left as it was.
"""

import re

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: The invisible format characters one_line drops, as they were when this migration was written:
#: bidi embeddings, overrides, isolates and marks, zero-width spaces, word joiners, the BOM, the
#: soft hyphen (the zero-width joiners words and emoji need are kept).
INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")

#: (table, column): every one-line title or name.
COLUMNS = [
    ("users", "display_name"),
    ("spaces", "name"),
    ("memberships", "function"),
    ("invitations", "label"),
    ("news_items", "title"),
    ("activities", "title"),
    ("organisations", "name"),
    ("forum_categories", "name"),
    ("forum_topics", "title"),
    ("event_categories", "name"),
    ("resources", "name"),
    ("events", "title"),
    ("events", "location"),
    ("task_lists", "name"),
    ("task_statuses", "name"),
    ("tasks", "title"),
    ("task_checklist_items", "text"),
    ("polls", "question"),
    ("poll_options", "label"),
    ("folders", "name"),
    ("documents", "name"),
    ("document_versions", "note"),
    ("notifications", "title"),
    ("notifications", "actor_name"),
]


def clean(text):
    return " ".join(_INVISIBLE_RE.sub("", text).split())


def upgrade():
    connection = op.get_bind()
    for table_name, column_name in COLUMNS:
        table = sa.table(table_name, sa.column("id"), sa.column(column_name))
        column = table.c[column_name]
        found = connection.execute(
            sa.select(table.c.id, column).where(sa.or_(*(column.contains(char, autoescape=True) for char in INVISIBLE)))
        ).all()
        for row_id, value in found:
            cleaned = clean(value)
            if cleaned == value or not cleaned:
                continue
            try:
                with connection.begin_nested():
                    connection.execute(sa.update(table).where(table.c.id == row_id).values({column_name: cleaned}))
            except sa.exc.IntegrityError:
                pass  # another row of the same place already has that name: this one keeps its own


def downgrade():
    pass  # what was removed was invisible: nothing to put back
