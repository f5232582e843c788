"""Re-pointing editions: the one place an edition's build changes.

A switch is one row update plus one history row, in the caller's
transaction; no object is copied, so a switch costs the same for a build of
ten files as for one of ten thousand.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from keeper.db import (
    Build,
    BuildStatus,
    Edition,
    EditionHistory,
    EditionKind,
    Product,
)
from keeper.db.types import pk, utcnow
from keeper.edge.rules import RESERVED_EDITION_SLUGS
from keeper.jobs.publish_status import mark_pending
from keeper.services.lookup import build_by_id
from keeper.tracking import (
    BuildFacts,
    EditionFacts,
    draft_slug,
    edition_claims,
    edition_should_update,
    version_editions_for,
)


def lock_product(session: Session, product: Product) -> None:
    """Serialize publishing within one product until the transaction ends.

    A write takes a row lock on PostgreSQL and the database write lock on
    SQLite, so two confirmations never evaluate tracking on the same stale
    edition state (no lost update).
    """
    session.execute(
        update(Product)
        .where(col(Product.id) == product.id)
        .values(publish_seq=Product.publish_seq + 1)
    )


def build_facts(build: Build) -> BuildFacts:
    assert build.id is not None
    return BuildFacts(
        git_ref=build.git_ref,
        sequence=build.id,
        git_refs=tuple(build.git_refs or ()),
        alternate_name=build.alternate_name,
    )


def edition_facts(edition: Edition) -> EditionFacts:
    return EditionFacts(
        slug=edition.slug,
        tracking_mode=edition.tracking_mode,
        tracking_params=edition.tracking_params or {},
    )


def point_edition(
    session: Session,
    edition: Edition,
    build: Build | None,
    *,
    reason: str,
    actor: str | None,
) -> None:
    previous = build_by_id(session, edition.build_id)
    edition.build_id = build.id if build else None
    edition.published = edition.updated = utcnow()
    mark_pending(session, edition)
    session.add(
        EditionHistory(
            edition_id=pk(edition),
            build_public_id=build.public_id if build else None,
            previous_build_public_id=previous.public_id if previous else None,
            reason=reason,
            actor=actor,
        )
    )


def apply_tracking(
    session: Session, product: Product, build: Build, *, actor: str | None
) -> list[Edition]:
    """Move every edition whose rule prefers ``build``; returns those moved.

    Creates the semver major/minor editions a release tag implies and a
    draft edition when no edition tracks the build's ref at all.
    The caller holds :func:`lock_product`.
    """
    editions = list(
        session.exec(select(Edition).where(Edition.product_id == product.id))
    )
    editions += _auto_create(session, product, build, editions)
    candidate = build_facts(build)
    moved = []
    for edition in editions:
        current = build_by_id(session, edition.build_id)
        current_facts = build_facts(current) if current else None
        if edition_should_update(edition_facts(edition), candidate, current_facts):
            point_edition(session, edition, build, reason="tracking", actor=actor)
            moved.append(edition)
    return moved


def _auto_create(
    session: Session, product: Product, build: Build, editions: list[Edition]
) -> list[Edition]:
    slugs = {e.slug for e in editions}
    created = []
    if build.alternate_name is None:
        for slug, mode, params in version_editions_for(build.git_ref):
            if slug not in slugs:
                kind = (
                    EditionKind.major if mode == "semver_major" else EditionKind.minor
                )
                created.append(_new_edition(session, product, slug, kind, mode, params))
                slugs.add(slug)
    facts = build_facts(build)
    if not any(edition_claims(edition_facts(e), facts) for e in editions + created):
        slug = _free_slug(draft_slug(build.git_ref, build.alternate_name), slugs)
        if build.alternate_name:
            kind, mode = EditionKind.alternate, "alternate_git_ref"
            params = {"git_ref": build.git_ref, "alternate_name": build.alternate_name}
        else:
            kind, mode, params = (
                EditionKind.draft,
                "git_ref",
                {"git_ref": build.git_ref},
            )
        created.append(_new_edition(session, product, slug, kind, mode, params))
    return created


def _new_edition(
    session: Session,
    product: Product,
    slug: str,
    kind: EditionKind,
    mode: str,
    params: dict[str, object],
) -> Edition:
    edition = Edition(
        product_id=pk(product),
        slug=slug,
        title=slug,
        kind=kind,
        tracking_mode=mode,
        tracking_params=params,
    )
    session.add(edition)
    session.flush()
    return edition


def _free_slug(slug: str, taken: set[str]) -> str:
    # /v/switcher.json and /v/versions.json are generated pages, never
    # editions.
    taken = taken | RESERVED_EDITION_SLUGS
    if slug not in taken:
        return slug
    n = 2
    while f"{slug}-{n}" in taken:
        n += 1
    return f"{slug}-{n}"


def best_existing_build(
    session: Session, product: Product, edition: Edition
) -> Build | None:
    """The complete build a new edition's rule picks among existing builds."""
    best: Build | None = None
    facts = edition_facts(edition)
    builds = session.exec(
        select(Build)
        .where(Build.product_id == product.id, Build.status == BuildStatus.complete)
        .order_by(col(Build.id))
    )
    for build in builds:
        if edition_should_update(
            facts, build_facts(build), build_facts(best) if best else None
        ):
            best = build
    return best
