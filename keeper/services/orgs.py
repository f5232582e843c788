"""Organization use cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from keeper.db import EdgeConfig, Organization, OrgTemplate, Product, Token
from keeper.db.types import pk
from keeper.domain.site_domains import (
    DomainError,
    SiteDomain,
    collision,
    normalise_base_domain,
    takes_api_host,
)
from keeper.jobs.follow import org_changed
from keeper.services.changes import apply_changes
from keeper.services.errors import Conflict, Invalid
from keeper.services.lookup import get_org
from keeper.services.pagination import Page, PageResult, paginate
from keeper.services.store_urls import check_storage_url

#: The fields that decide which requests and which stored objects are the
#: org's: only a superadmin sets them, since an org admin could otherwise
#: take another org's sites, keeper's own API, or its files.
PLATFORM_FIELDS = frozenset({"base_domain", "url_layout", "storage_url"})
#: Arbitrary constant: the PostgreSQL advisory lock that serializes changes
#: to orgs' domains, so two at once cannot both pass the overlap check.
_DOMAIN_LOCK = 7_413_220_912


def create_org(session: Session, *, api_host: str, **fields: Any) -> Organization:
    """A new org; ``api_host`` is keeper's own host, which no org's sites
    may cover."""
    if get_org_or_none(session, fields["slug"]) is not None:
        raise Conflict(f"organization {fields['slug']!r} already exists")
    fields = _checked(fields)
    _serialize_domain_changes(session)
    _check_domain(session, None, _sites(fields), api_host)
    org = Organization(**fields)
    session.add(org)
    try:
        session.flush()
    except IntegrityError as exc:
        # Another request took the slug or the domain since the checks.
        session.rollback()
        if get_org_or_none(session, fields["slug"]) is not None:
            raise Conflict(f"organization {fields['slug']!r} already exists") from exc
        raise _taken(session, org.base_domain) from exc
    session.refresh(org)
    return org


def platform_changes(org: Organization, changes: dict[str, Any]) -> set[str]:
    """The fields among ``changes`` that only a superadmin may make: those
    of :data:`PLATFORM_FIELDS` whose value would change (sending back what
    the org already has is no change, so a read-modify-write of the whole
    org works for its admins)."""
    return {
        name
        for name in PLATFORM_FIELDS & changes.keys()
        if changes[name] != getattr(org, name)
    }


def update_org(
    session: Session, org: Organization, changes: dict[str, Any], *, api_host: str
) -> Organization:
    changes = _checked(changes)
    if changes.keys() & {"base_domain", "url_layout"}:
        _serialize_domain_changes(session)
        sites = SiteDomain(
            changes.get("base_domain", org.base_domain),
            changes.get("url_layout", org.url_layout),
        )
        _check_domain(session, org, sites, api_host)
    org_changed(session, pk(org))
    try:
        return apply_changes(session, org, changes)
    except IntegrityError as exc:
        session.rollback()
        raise _taken(session, changes.get("base_domain", "")) from exc


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
    session.flush()


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the base domain normalised and the storage URL
    checked; the API's schemas do the same, this keeps other callers honest."""
    fields = dict(fields)
    if fields.get("base_domain") is not None:
        try:
            fields["base_domain"] = normalise_base_domain(fields["base_domain"])
        except DomainError as exc:
            raise Invalid(f"base_domain: {exc}") from exc
    if fields.get("storage_url") is not None:
        fields["storage_url"] = check_storage_url(fields["storage_url"])
    return fields


def _sites(fields: dict[str, Any]) -> SiteDomain:
    return SiteDomain(
        fields.get("base_domain") or "", fields.get("url_layout") or "subdomain"
    )


def _check_domain(
    session: Session, org: Organization | None, sites: SiteDomain, api_host: str
) -> None:
    """Refuse sites that would take keeper's own host or another org's."""
    if not sites.domain:
        return
    reason = takes_api_host(sites, api_host)
    if reason:
        raise Invalid(f"base_domain {sites.domain} cannot be used: {reason}")
    query = select(Organization).where(Organization.base_domain != "")
    if org is not None:
        query = query.where(Organization.id != org.id)
    for other in session.exec(query):
        reason = collision(sites, SiteDomain(other.base_domain, other.url_layout))
        if reason:
            raise Conflict(
                f"base_domain {sites.domain} collides with organization "
                f"{other.slug!r} ({reason}); a domain's sites belong to one org"
            )


def _serialize_domain_changes(session: Session) -> None:
    """Hold every other change of orgs' domains off until this transaction
    ends. The unique index catches two orgs taking one domain at once, but
    not a domain and its parent, which only the check above sees."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DOMAIN_LOCK})
    else:
        # SQLite: a write, even of nothing, takes the database's write lock
        # (other writers wait for it), and reads after it see their commits.
        session.execute(text("UPDATE organization SET id = id WHERE 1 = 0"))


def get_org_or_none(session: Session, slug: str) -> Organization | None:
    return session.exec(select(Organization).where(Organization.slug == slug)).first()


def _taken(session: Session, domain: str) -> Conflict:
    owner = session.exec(
        select(Organization.slug).where(Organization.base_domain == domain)
    ).first()
    return Conflict(
        f"base_domain {domain} is organization {owner!r}'s"
        if owner
        else f"base_domain {domain} was taken meanwhile; try again"
    )


def list_orgs(session: Session, page: Page) -> PageResult[Organization]:
    return paginate(session, select(Organization), Organization.id, page)
