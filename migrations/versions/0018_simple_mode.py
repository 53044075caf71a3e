"""Mode simple: a person's choice of bigger text, icons with every label and one column

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:05:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("simple_mode", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("simple_mode")
