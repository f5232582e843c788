"""build manifest digest, so interrupted uploads resume

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "manifest_digest",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_build_product_digest", ["product_id", "manifest_digest"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.drop_index("ix_build_product_digest")
        batch_op.drop_column("manifest_digest")
