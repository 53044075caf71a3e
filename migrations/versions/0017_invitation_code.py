"""A short code beside each printed invitation link, typed by hand where scanning or copying fails

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 10:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_invitations_code_hash"), ["code_hash"], unique=True)


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_code_hash"))
        batch_op.drop_column("code_hash")
