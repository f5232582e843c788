"""Edition use cases: create, change, delete, roll back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keeper.db import (
    MAIN_EDITION,
    Build,
    BuildStatus,
    Edition,
    EditionHistory,
    EditionKind,
    Product,
)
from keeper.db.types import pk, utcnow
from keeper.jobs.follow import product_changed
from keeper.services.errors import Conflict, Invalid
from keeper.services.lookup import find_edition, get_build
from keeper.services.pagination import Page, PageResult, paginate
from keeper.services.publish import best_existing_build, lock_product, point_edition
from keeper.tracking import TrackingParamsError, validate_tracking


def _tracking(mode: str, params: Any) -> dict[str, Any]:
    try:
        return validate_tracking(mode, params)
    except TrackingParamsError as exc:
        raise Invalid(str(exc)) from exc


def create_edition(
    session: Session,
    product: Product,
    *,
    slug: str,
    title: str | None,
    kind: str,
    tracking_mode: str,
    tracking_params: dict[str, Any],
    build: str | None,
    hidden: bool,
    actor: str | None,
) -> Edition:
    params = _tracking(tracking_mode, tracking_params)
    lock_product(session, product)
    if find_edition(session, product, slug) is not None:
        raise Conflict(f"edition {slug!r} already exists in {product.slug!r}")
    edition = Edition(
        product_id=pk(product),
        slug=slug,
        title=title or slug,
        kind=EditionKind(kind),
        tracking_mode=tracking_mode,
        tracking_params=params,
        hidden=hidden,
    )
    session.add(edition)
    session.flush()
    # A new edition shows something at once: the named build, or the build
    # its rule would have picked among those already published.
    target = (
        _complete_build(session, product, build)
        if build
        else best_existing_build(session, product, edition)
    )
    if target is not None:
        point_edition(
            session,
            edition,
            target,
            reason="manual" if build else "tracking",
            actor=actor,
        )
    product_changed(session, product)
    session.flush()
    session.refresh(edition)
    return edition


def update_edition(
    session: Session,
    product: Product,
    edition: Edition,
    changes: dict[str, Any],
    *,
    actor: str | None,
) -> Edition:
    lock_product(session, product)
    if "slug" in changes and changes["slug"] != edition.slug:
        if edition.slug == MAIN_EDITION or changes["slug"] == MAIN_EDITION:
            raise Conflict(f"{MAIN_EDITION!r} cannot be renamed or taken")
        if find_edition(session, product, changes["slug"]) is not None:
            raise Conflict(f"edition {changes['slug']!r} already exists")
    if "tracking_mode" in changes or "tracking_params" in changes:
        changes["tracking_params"] = _tracking(
            changes.get("tracking_mode", edition.tracking_mode),
            changes.get("tracking_params", edition.tracking_params),
        )
    build = changes.pop("build", None)
    for name, value in changes.items():
        setattr(edition, name, value)
    edition.updated = utcnow()
    session.add(edition)
    if build is not None:
        point_edition(
            session,
            edition,
            _complete_build(session, product, build),
            reason="manual",
            actor=actor,
        )
    product_changed(session, product)
    session.flush()
    session.refresh(edition)
    return edition


def rollback_edition(
    session: Session,
    product: Product,
    edition: Edition,
    build: str,
    *,
    actor: str | None,
) -> Edition:
    lock_product(session, product)
    point_edition(
        session,
        edition,
        _complete_build(session, product, build),
        reason="rollback",
        actor=actor,
    )
    product_changed(session, product)
    session.flush()
    session.refresh(edition)
    return edition


def delete_edition(session: Session, edition: Edition) -> None:
    if edition.slug == MAIN_EDITION:
        raise Conflict(f"{MAIN_EDITION!r} is the product's default edition and stays")
    session.execute(
        delete(EditionHistory).where(col(EditionHistory.edition_id) == edition.id)
    )
    session.delete(edition)
    product = session.get(Product, edition.product_id)
    if product is not None:
        product_changed(session, product)
    session.flush()


def _complete_build(session: Session, product: Product, public_id: str) -> Build:
    build = get_build(session, product, public_id)
    if build.status != BuildStatus.complete:
        raise Conflict(f"build {public_id!r} is {build.status}, not complete")
    return build


def list_editions(
    session: Session, product: Product, page: Page
) -> PageResult[Edition]:
    query = select(Edition).where(Edition.product_id == product.id)
    return paginate(session, query, Edition.id, page)


def edition_history(
    session: Session, edition: Edition, page: Page
) -> PageResult[EditionHistory]:
    query = select(EditionHistory).where(EditionHistory.edition_id == edition.id)
    return paginate(session, query, EditionHistory.id, page)
