"""Confirming a build: the uploader says every file is sent.

The request only records that and queues the ``verify_build`` job in the
same transaction (:mod:`keeper.services.builds.verification` does the
work), so confirming costs the same for ten files as for ten thousand.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from keeper.db import Build, BuildStatus, Product
from keeper.db.types import pk, utcnow
from keeper.jobs.kinds import VERIFY_BUILD
from keeper.jobs.queue import enqueue
from keeper.services.errors import Conflict


def request_confirmation(
    session: Session,
    product: Product,
    build: Build,
    *,
    actor: str | None,
    not_before: timedelta | None = None,
) -> bool:
    """Stop the build taking uploads and queue its verification; True when
    work was queued, False when the build is complete already.

    Confirming again while the build is processing, or once it is
    complete, changes nothing, so a client retrying after a lost response
    is safe. A failed build is verified again (after re-uploads).
    """
    if build.status == BuildStatus.complete:
        return False
    if build.status == BuildStatus.processing:
        return True
    if build.status not in (BuildStatus.pending, BuildStatus.failed):
        raise Conflict(f"build {build.public_id!r} is {build.status}")
    begin_confirmation(session, build)
    enqueue(
        session,
        VERIFY_BUILD,
        key=f"build:{pk(build)}",
        org_id=product.org_id,
        product_id=product.id,
        data={"build_id": pk(build), "actor": actor},
        not_before=not_before,
    )
    return True


def begin_confirmation(session: Session, build: Build) -> None:
    """From now on the build takes no uploads: every URL it handed out is
    refused (keeper's) or writes only to staging (presigned)."""
    build.status = BuildStatus.processing
    build.uploaded = utcnow()
    build.error = None
    session.add(build)
    session.flush()


def fail(session: Session, build: Build, error: str) -> None:
    build.status = BuildStatus.failed
    build.error = error
    session.add(build)
    session.flush()
