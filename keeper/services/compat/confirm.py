"""Confirming a build the LTD Keeper 1.x way (``{"uploaded": true}``)."""

from __future__ import annotations

from sqlmodel import Session

from keeper.db import Build, BuildStatus, Edition, Organization
from keeper.services.builds.confirm import confirm_build
from keeper.services.compat.lookup import product_of
from keeper.services.compat.manifest import record_landed_manifest
from keeper.services.compat.register import COMPAT_MARK
from keeper.services.errors import VerificationFailed
from keeper.services.runtime import Runtime


def confirm_compat_build(
    session: Session,
    runtime: Runtime,
    org: Organization,
    build: Build,
    *,
    actor: str,
) -> tuple[Build, list[Edition]]:
    """Record what landed as the manifest, then confirm as keeper always does
    (verify every object, run tracking, re-point editions)."""
    product = product_of(session, build)
    # Builds registered natively keep the manifest their client declared.
    if build.status != BuildStatus.complete and (build.ci or {}).get(COMPAT_MARK):
        landed = record_landed_manifest(
            session, runtime.stores.for_org(org), product, build
        )
        if not landed:
            build.status = BuildStatus.failed
            build.error = "nothing was uploaded: the build's folder is empty"
            session.add(build)
            session.commit()
            raise VerificationFailed(build.error)
    return confirm_build(session, runtime, org, product, build, actor=actor)
