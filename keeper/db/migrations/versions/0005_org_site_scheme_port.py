"""the scheme and port an org's sites are reached at

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "site_scheme",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="https",
            )
        )
        batch_op.add_column(sa.Column("site_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("site_port")
        batch_op.drop_column("site_scheme")
