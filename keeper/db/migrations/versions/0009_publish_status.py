"""publish status: editions know when their build reached every page and
edge; edges run by an agent on another host

Existing editions count as published: the pages and edges of a keeper that
ran before this were written in the request that changed them.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import keeper.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edition", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "publish_status",
                sa.String(length=16),
                nullable=False,
                server_default="published",
            )
        )
        batch_op.add_column(
            sa.Column("publish_seq", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("published_at", keeper.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "publish_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True
            )
        )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pages_seq", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("edge_config", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("agent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("edge_config", schema=None) as batch_op:
        batch_op.drop_column("agent")
        batch_op.drop_column("applied")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("pages_seq")
    with op.batch_alter_table("edition", schema=None) as batch_op:
        batch_op.drop_column("publish_error")
        batch_op.drop_column("published_at")
        batch_op.drop_column("publish_seq")
        batch_op.drop_column("publish_status")
