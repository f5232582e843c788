"""Shaping table rows into API responses."""

from __future__ import annotations

from sqlmodel import Session

from keeper.api import schemas
from keeper.db import (
    MAIN_EDITION,
    Build,
    Edition,
    EditionHistory,
    Organization,
    Product,
    PublishStatus,
)
from keeper.services.lookup import build_by_id


def product_url(org: Organization, product: Product) -> str | None:
    if not org.base_domain:
        return None
    default_port = {"https": 443, "http": 80}.get(org.site_scheme)
    port = f":{org.site_port}" if org.site_port not in (None, default_port) else ""
    if org.url_layout == "path":
        return f"{org.site_scheme}://{org.base_domain}{port}/{product.slug}/"
    return f"{org.site_scheme}://{product.slug}.{org.base_domain}{port}/"


def org_public(org: Organization) -> schemas.OrgPublic:
    return schemas.OrgPublic.model_validate(org, from_attributes=True)


def product_public(org: Organization, product: Product) -> schemas.ProductPublic:
    return schemas.ProductPublic(
        org=org.slug,
        slug=product.slug,
        title=product.title,
        source_repo_url=product.source_repo_url,
        redirects=[
            schemas.RedirectRule.model_validate(rule)
            for rule in product.redirects or ()
        ],
        published_url=product_url(org, product),
        created=product.created,
        updated=product.updated,
    )


def edition_public(
    session: Session, org: Organization, product: Product, edition: Edition
) -> schemas.EditionPublic:
    build = build_by_id(session, edition.build_id)
    root = product_url(org, product)
    url = None
    if root:
        url = root if edition.slug == MAIN_EDITION else f"{root}v/{edition.slug}/"
    return schemas.EditionPublic(
        slug=edition.slug,
        title=edition.title,
        kind=edition.kind,
        tracking_mode=edition.tracking_mode,
        tracking_params=edition.tracking_params or {},
        build_id=build.public_id if build else None,
        hidden=edition.hidden,
        published_url=url,
        created=edition.created,
        updated=edition.updated,
        published=edition.published,
        # The column holds plain text, as build statuses do.
        publish_status=PublishStatus(edition.publish_status),
        published_at=edition.published_at,
        publish_error=edition.publish_error,
    )


def history_entry(row: EditionHistory) -> schemas.HistoryEntry:
    return schemas.HistoryEntry(
        build_id=row.build_public_id,
        previous_build_id=row.previous_build_public_id,
        reason=row.reason,
        actor=row.actor,
        created=row.created,
    )


def build_fields(build: Build) -> dict[str, object]:
    return dict(
        id=build.public_id,
        git_ref=build.git_ref,
        git_refs=build.git_refs or [],
        alternate_name=build.alternate_name,
        status=build.status,
        uploader=build.uploader,
        ci=build.ci or {},
        file_count=build.file_count,
        total_size=build.total_size,
        error=build.error,
        created=build.created,
        uploaded=build.uploaded,
        completed=build.completed,
    )


def build_public(build: Build) -> schemas.BuildPublic:
    return schemas.BuildPublic.model_validate(build_fields(build))
