"""Every kind of job keeper runs, and its code.

Publishing (pages, edges) lives in :mod:`keeper.jobs`; verifying a build
is a use case, so its job's code lives with the build services. Every
runner, in ``keeper serve``, ``keeper worker`` or ``keeper jobs run``,
runs this.
"""

from __future__ import annotations

from keeper.jobs.handlers import PUBLISHING, Work
from keeper.jobs.kinds import (
    COLLECT_GARBAGE,
    DELETE_OBJECTS,
    MATERIALIZE_BUILDS,
    PLACE_UPLOADS,
    VERIFY_BUILD,
)
from keeper.services import gc, removal
from keeper.services.builds import early, materialize, verification

WORK = Work(
    handlers={
        **PUBLISHING.handlers,
        VERIFY_BUILD: verification.run,
        DELETE_OBJECTS: removal.run,
        COLLECT_GARBAGE: gc.run,
        MATERIALIZE_BUILDS: materialize.run,
        PLACE_UPLOADS: early.run,
    },
    gave_up={**PUBLISHING.gave_up, VERIFY_BUILD: verification.gave_up},
)
