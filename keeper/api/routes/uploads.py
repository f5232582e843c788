"""Receives files for stores that cannot hand out presigned URLs."""

from __future__ import annotations

import io
import tempfile
from typing import BinaryIO, cast

from fastapi import Request, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from keeper.api.access import SIGNED_URL
from keeper.api.deps import RuntimeDep, SessionDep
from keeper.api.routing import api_router, max_body
from keeper.domain.limits import FORM_BODY_BYTES, MAX_FILE_BYTES
from keeper.services.errors import Invalid, KeeperError
from keeper.services.form_uploads import FormFile, receive_form_post
from keeper.services.lookup import get_org
from keeper.services.runtime import Runtime
from keeper.storage import ObjectStore

router = api_router(prefix="/uploads", tags=["uploads"])

#: Bodies up to this size stay in memory; larger ones spill to disk.
_SPOOL_BYTES = 8 * 1024 * 1024
#: S3 takes at most 5 GiB in one POST; keeper's form uploads match it.
_MAX_FORM_BYTES = 5 * 1024**3


class TooLarge(KeeperError):
    status_code = 413
    error_type = "too_large"


@router.put(
    "/{token}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[SIGNED_URL],
    openapi_extra=max_body(MAX_FILE_BYTES),
)
async def put_object(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> None:
    grant = runtime.signer.verify(token)
    store = await run_in_threadpool(_org_store, session, runtime, grant.org)
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


def _org_store(session: Session, runtime: Runtime, slug: str) -> ObjectStore:
    """Look the org up off the event loop and give the connection back at
    once: uploads stream for a while, and many at a time would otherwise
    hold every pooled connection and starve the rest of the API."""
    try:
        return runtime.stores.for_org(get_org(session, slug))
    finally:
        session.close()


@router.post(
    "/form/{token}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[SIGNED_URL],
    openapi_extra=max_body(FORM_BODY_BYTES),
)
async def post_form(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> None:
    """An S3-style form upload (POST Object) for stores that cannot presign
    one: the ``file`` part lands at the ``key`` field, inside the folder
    the URL grants."""
    grant = runtime.signer.verify_post(token)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_FORM_BYTES:
        raise TooLarge(f"a form upload takes at most {_MAX_FORM_BYTES} bytes")
    async with request.form(max_files=1, max_fields=100) as form:
        part = form.get("file")
        if part is None:
            raise Invalid("the form has no 'file' part")
        key_field = form.get("key")
        file = _form_file(part, form.get("Content-Type"))
        # The whole form is in by now; the org lookup is the only database
        # work, done before the (possibly long) write to the store.
        store = await run_in_threadpool(_org_store, session, runtime, grant.org)
        await run_in_threadpool(
            receive_form_post,
            store,
            grant,
            key_field=key_field if isinstance(key_field, str) else None,
            file=file,
        )


def _form_file(part: UploadFile | str, content_type: object) -> FormFile:
    if isinstance(part, str):
        # A part without a filename arrives as text (LTD's empty markers).
        data = part.encode()
        return FormFile("", None, io.BytesIO(data), len(data))
    chosen = content_type if isinstance(content_type, str) else part.content_type
    size = part.size if part.size is not None else _measure(part.file)
    return FormFile(part.filename or "", chosen or None, part.file, size)


def _measure(body: BinaryIO) -> int:
    size = body.seek(0, io.SEEK_END)
    body.seek(0)
    return size
