"""Forum posts keep which renderer version wrote their HTML, so a renderer change renders them again

Rows written before this migration get version 0: the background process renders them again once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:05:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_html_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_forum_posts_body_html_version", ["body_html_version"], unique=False)


def downgrade():
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_posts_body_html_version")
        batch_op.drop_column("body_html_version")
