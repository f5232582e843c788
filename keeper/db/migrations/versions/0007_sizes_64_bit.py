"""file and build sizes as 64-bit integers

A file may hold up to 5 GiB and a build 50 GiB (keeper.domain.limits);
PostgreSQL's INTEGER stops at 2 GiB.

Revision ID: 0007
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("build_file", schema=None) as batch_op:
        batch_op.alter_column(
            "size", existing_type=sa.Integer(), type_=sa.BigInteger()
        )
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.alter_column(
            "total_size", existing_type=sa.Integer(), type_=sa.BigInteger()
        )


def downgrade() -> None:
    with op.batch_alter_table("build", schema=None) as batch_op:
        batch_op.alter_column(
            "total_size", existing_type=sa.BigInteger(), type_=sa.Integer()
        )
    with op.batch_alter_table("build_file", schema=None) as batch_op:
        batch_op.alter_column(
            "size", existing_type=sa.BigInteger(), type_=sa.Integer()
        )
