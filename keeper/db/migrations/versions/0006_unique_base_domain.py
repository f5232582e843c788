"""a base domain belongs to one organization

Revision ID: 0006
Revises: 0005

Base domains are stored the way the edge compares them (lower case, no
surrounding spaces, no trailing dot); existing rows are brought to that
form, which changes no site the edge serves except that a name stored with
a trailing dot now matches at all. Then a partial unique index makes each
non-empty base domain one org's.

If two orgs already share a base domain, this migration stops before
changing anything and names them: which org keeps the domain is the
operator's decision, not keeper's. Give the others another domain (or none)
and start keeper again, for example with
``UPDATE organization SET base_domain = '' WHERE slug = 'other';``.
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_organization_base_domain"
HAS_DOMAIN = sa.text("base_domain <> ''")


def _normalised(domain: str) -> str:
    name = domain.strip().lower()
    return name[:-1] if name.endswith(".") else name


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, slug, base_domain FROM organization ORDER BY id")
    ).all()
    owners: dict[str, list[str]] = defaultdict(list)
    changed: list[tuple[int, str]] = []
    for org_id, slug, domain in rows:
        name = _normalised(domain)
        if name:
            owners[name].append(slug)
        if name != domain:
            changed.append((org_id, name))
    shared = {name: slugs for name, slugs in owners.items() if len(slugs) > 1}
    if shared:
        listed = "; ".join(
            f"{name}: {', '.join(slugs)}" for name, slugs in sorted(shared.items())
        )
        raise RuntimeError(
            "cannot make base domains unique: organizations share them "
            f"({listed}). Keep each domain on one org (UPDATE organization SET "
            "base_domain = '' WHERE slug = '…') and start keeper again."
        )
    for org_id, name in changed:
        connection.execute(
            sa.text("UPDATE organization SET base_domain = :name WHERE id = :id"),
            {"name": name, "id": org_id},
        )
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.create_index(
            INDEX,
            ["base_domain"],
            unique=True,
            sqlite_where=HAS_DOMAIN,
            postgresql_where=HAS_DOMAIN,
        )


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
