"""Organization use cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from keeper.db import EdgeConfig, Organization, OrgTemplate, Product, Token
from keeper.services.changes import apply_changes
from keeper.services.errors import Conflict
from keeper.services.lookup import get_org


def create_org(session: Session, **fields: Any) -> Organization:
    if session.exec(
        select(Organization).where(Organization.slug == fields["slug"])
    ).first():
        raise Conflict(f"organization {fields['slug']!r} already exists")
    org = Organization(**fields)
    session.add(org)
    session.commit()
    session.refresh(org)
    return org


def update_org(
    session: Session, org: Organization, changes: dict[str, Any]
) -> Organization:
    return apply_changes(session, org, changes)


def delete_org(session: Session, slug: str) -> None:
    org = get_org(session, slug)
    # Deleting an org with products would silently take their builds with
    # it; make the admin delete those deliberately first.
    products = session.exec(
        select(func.count()).select_from(Product).where(Product.org_id == org.id)
    ).one()
    if products:
        raise Conflict(
            f"organization {slug!r} still has {products} product(s); delete them first"
        )
    # Rows that reference the org die with it: tokens, page templates and
    # recorded edges (whose files and servers are left alone).
    for table in (Token, OrgTemplate, EdgeConfig):
        session.execute(delete(table).where(col(table.org_id) == org.id))
    session.delete(org)
    session.commit()
