"""builds being verified are ``processing`` (verification is a job now)

A build left ``uploaded`` by an older keeper (one that stopped while it
confirmed in the request) becomes ``processing``; keeper's start queues
the job that finishes it.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE build SET status = 'processing' WHERE status = 'uploaded'")


def downgrade() -> None:
    op.execute("UPDATE build SET status = 'uploaded' WHERE status = 'processing'")
