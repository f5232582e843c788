"""per-org templates for the generated pages

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import keeper.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "org_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated", keeper.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name"),
    )
    with op.batch_alter_table("org_template", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_org_template_org_id"), ["org_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("org_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_template_org_id"))
    op.drop_table("org_template")
