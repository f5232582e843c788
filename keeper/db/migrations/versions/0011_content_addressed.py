"""content-addressed builds: objects stored once per sha256

Builds already in the store are full prefixes: they stay ``materialized``
and not ``content_addressed`` until ``keeper storage migrate`` converts
them, and every edge keeps serving them meanwhile.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import keeper.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_object",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed", keeper.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("product_id", "sha256"),
    )
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "content_addressed",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch_op.add_column(
            sa.Column(
                "materialized", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.drop_column("materialized")
        batch_op.drop_column("content_addressed")
    op.drop_table("stored_object")
