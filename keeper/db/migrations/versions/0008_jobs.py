"""jobs: the work that follows a change, written in the change's transaction

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import keeper.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_QUEUED = sa.text("status = 'queued'")


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", keeper.db.types.UTCDateTime(), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("lease_until", keeper.db.types.UTCDateTime(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created", keeper.db.types.UTCDateTime(), nullable=False),
        sa.Column("started", keeper.db.types.UTCDateTime(), nullable=True),
        sa.Column("finished", keeper.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_job_status_run_after", ["status", "run_after"], unique=False
        )
        batch_op.create_index(
            "uq_job_queued_kind_key",
            ["kind", "key"],
            unique=True,
            sqlite_where=ONE_QUEUED,
            postgresql_where=ONE_QUEUED,
        )


def downgrade() -> None:
    op.drop_table("job")
