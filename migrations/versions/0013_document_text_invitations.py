"""document text read in the background; invitations mailed to an address

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 07:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # Every existing version is marked: the background process reads its text once and keeps it.
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extracted_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("text_pending", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_index(batch_op.f("ix_document_versions_text_pending"), ["text_pending"], unique=False)
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.alter_column("text_pending", server_default=None)
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("function", sa.String(length=120), nullable=False, server_default=""))
        batch_op.create_foreign_key(
            batch_op.f("fk_invitations_organisation_id_organisations"),
            "organisations",
            ["organisation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("function", server_default=None)


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_invitations_organisation_id_organisations"), type_="foreignkey")
        batch_op.drop_column("function")
        batch_op.drop_column("organisation_id")
        batch_op.drop_column("email")
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_versions_text_pending"))
        batch_op.drop_column("text_pending")
        batch_op.drop_column("extracted_text")
