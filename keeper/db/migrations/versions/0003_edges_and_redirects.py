"""redirect rules on products and builds; rendered edge configurations

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import keeper.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redirects", sa.JSON(), nullable=True))
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redirects", sa.JSON(), nullable=True))
    op.create_table(
        "edge_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "out_dir", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False
        ),
        sa.Column("listen", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created", keeper.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated", keeper.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "target", "out_dir"),
    )
    with op.batch_alter_table("edge_config", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_edge_config_org_id"), ["org_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("edge_config", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edge_config_org_id"))
    op.drop_table("edge_config")
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.drop_column("redirects")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("redirects")
