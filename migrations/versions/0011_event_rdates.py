"""events.rdates: the extra dates (iCalendar RDATE) of an imported event or series

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rdates", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("rdates", server_default=None)


def downgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("rdates")
