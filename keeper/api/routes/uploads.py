"""Receives files for stores that cannot hand out presigned URLs."""

from __future__ import annotations

import tempfile
from typing import BinaryIO, cast

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from keeper.api.deps import RuntimeDep, SessionDep
from keeper.services.errors import KeeperError
from keeper.services.lookup import get_org

router = APIRouter(prefix="/uploads", tags=["uploads"])

#: Bodies up to this size stay in memory; larger ones spill to disk.
_SPOOL_BYTES = 8 * 1024 * 1024


class TooLarge(KeeperError):
    status_code = 413
    error_type = "too_large"


@router.put("/{token}", status_code=status.HTTP_204_NO_CONTENT)
async def put_object(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> None:
    grant = runtime.signer.verify(token)
    store = runtime.stores.for_org(get_org(session, grant.org))
    with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as body:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > grant.size:
                raise TooLarge(
                    f"the upload is larger than the {grant.size} bytes "
                    "the manifest declared"
                )
            body.write(chunk)
        body.seek(0)
        content_type = request.headers.get("content-type")
        await run_in_threadpool(
            store.put,
            grant.key,
            cast(BinaryIO, body),
            content_type=content_type,
        )
