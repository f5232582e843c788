"""manifest digest (uploads resume), file MD5 and sha256 verification

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
    with op.batch_alter_table("build_file", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("md5", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        # Files of builds confirmed before this revision were all hashed.
        batch_op.add_column(
            sa.Column(
                "sha256_verified",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
            )
        )
    with op.batch_alter_table("build_file", schema=None) as batch_op:
        batch_op.alter_column("sha256_verified", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("build_file", schema=None) as batch_op:
        batch_op.drop_column("sha256_verified")
        batch_op.drop_column("md5")
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.drop_index("ix_build_product_digest")
        batch_op.drop_column("manifest_digest")
