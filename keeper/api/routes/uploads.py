"""Receives files for stores that cannot hand out presigned URLs."""

from __future__ import annotations

import io
from typing import BinaryIO

from fastapi import Request, status
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from keeper.api.access import SIGNED_URL
from keeper.api.deps import RuntimeDep, SessionDep
from keeper.api.routing import api_router, max_body
from keeper.domain.limits import FORM_BODY_BYTES, MAX_FILE_BYTES
from keeper.services.errors import Invalid
from keeper.services.form_uploads import FormFile, receive_form_post
from keeper.services.put_uploads import (
    BodyTooLarge,
    GrantedBody,
    check_declared_length,
    store_granted,
)
from keeper.services.upload_grants import writable_store

router = api_router(prefix="/uploads", tags=["uploads"])


@router.put(
    "/{token}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[SIGNED_URL],
    openapi_extra=max_body(MAX_FILE_BYTES),
)
async def put_object(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> None:
    """One declared file of a build that is being uploaded: exactly its
    size and sha256, or nothing is stored."""
    grant = runtime.signer.verify(token)
    check_declared_length(request.headers.get("content-length"), grant)
    where = {"org": grant.org, "build": grant.build, "key_prefix": grant.key}
    # Refused before the body is read once the build is confirmed.
    await run_in_threadpool(writable_store, session, runtime, **where)
    with GrantedBody(grant) as body:
        async for chunk in request.stream():
            body.write(chunk)
        data = body.verified()
        await run_in_threadpool(store_granted, session, runtime, grant, data)


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
    if declared.isdigit() and int(declared) > FORM_BODY_BYTES:
        raise BodyTooLarge(f"a form upload takes at most {FORM_BODY_BYTES} bytes")
    where = {"org": grant.org, "build": grant.build, "key_prefix": grant.prefix}
    await run_in_threadpool(writable_store, session, runtime, **where)
    async with request.form(max_files=1, max_fields=100) as form:
        part = form.get("file")
        if part is None:
            raise Invalid("the form has no 'file' part")
        key_field = form.get("key")
        file = _form_file(part, form.get("Content-Type"))
        # The whole form is in by now, and the build may have been
        # confirmed meanwhile.
        store = await run_in_threadpool(writable_store, session, runtime, **where)
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
