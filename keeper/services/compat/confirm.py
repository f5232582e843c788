"""Confirming a build the LTD Keeper 1.x way (``{"uploaded": true}``).

ltd-conveyor 0.8 reads the answer as the outcome, so this confirmation
runs the ``verify_build`` job's work within the request (in its own short
transactions, none open while objects are copied) instead of answering
202. The job is queued too, a little later: should this process die
mid-way, a runner finishes the build.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from keeper.db import Build, BuildStatus
from keeper.services.builds.confirm import request_confirmation
from keeper.services.builds.verification import (
    fail_if_processing,
    finish_confirmation,
)
from keeper.services.compat.lookup import product_of
from keeper.services.errors import NotFound, VerificationFailed
from keeper.services.runtime import Runtime
from keeper.storage import StorageError

#: When the queued job takes over a confirmation this request has not
#: finished (the request died): well past any request's own run.
_TAKE_OVER_AFTER = timedelta(minutes=15)


def confirm_compat_build(
    engine: Engine, runtime: Runtime, build_id: int, *, actor: str
) -> Build:
    """Record what landed as the manifest (for builds registered the 1.x
    way), then verify, complete and re-point editions as keeper always
    does; returns the complete build, or raises naming what is wrong."""
    with Session(engine, expire_on_commit=False) as session:
        build = session.get(Build, build_id)
        if build is None:
            raise NotFound("build not found")
        request_confirmation(
            session,
            product_of(session, build),
            build,
            actor=actor,
            not_before=_TAKE_OVER_AFTER,
        )
        session.commit()
    try:
        outcome = finish_confirmation(engine, runtime, build_id, actor=actor)
    except StorageError as exc:
        fail_if_processing(
            engine, build_id, f"object storage failed while confirming: {exc}"
        )
        raise
    build = outcome.build
    if build is None:
        raise NotFound("build not found")
    if build.status == BuildStatus.failed:
        raise VerificationFailed(build.error or "verification failed")
    return build
