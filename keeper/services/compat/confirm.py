"""Confirming a build the LTD Keeper 1.x way (``{"uploaded": true}``)."""

from __future__ import annotations

from sqlmodel import Session

from keeper.db import Build, BuildStatus, Edition, Organization
from keeper.services.builds import staging
from keeper.services.builds.confirm import begin_confirmation, confirm_build, fail
from keeper.services.compat.lookup import product_of
from keeper.services.compat.manifest import LandedRefused, record_landed_manifest
from keeper.services.compat.register import COMPAT_MARK
from keeper.services.errors import VerificationFailed
from keeper.services.runtime import Runtime
from keeper.storage import StorageError


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
        # Before reading what landed: from here on keeper's form URLs are
        # refused, and presigned POSTs land in staging after it was read.
        begin_confirmation(session, build)
        store = runtime.stores.for_org(org)
        try:
            landed = record_landed_manifest(session, store, product, build)
        except LandedRefused as exc:
            staging.discard(store, product, build)
            fail(session, build, str(exc))
            raise VerificationFailed(str(exc)) from exc
        except StorageError as exc:
            fail(session, build, f"object storage failed while confirming: {exc}")
            raise
        if not landed:
            fail(session, build, "nothing was uploaded: the build's folder is empty")
            raise VerificationFailed(build.error or "")
    return confirm_build(session, runtime, org, product, build, actor=actor)
