"""Raw build objects for an org's rendered edge (Varnish over a
filesystem store); see :mod:`keeper.services.edge_origin`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response
from fastapi.responses import StreamingResponse

from keeper.api.access import SIGNED_URL
from keeper.api.deps import RuntimeDep, SessionDep
from keeper.api.routing import api_router
from keeper.edge.conditional import Unsatisfiable, byte_range, etag_matches
from keeper.services.edge_origin import (
    ORIGIN_PATH,
    SECRET_HEADER,
    check_secret,
    find_object,
)

router = api_router(prefix=ORIGIN_PATH, tags=["edge"], include_in_schema=False)


@router.api_route(
    "/{org}/{key:path}", methods=["GET", "HEAD"], dependencies=[SIGNED_URL]
)
def get_object(
    org: str,
    key: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    secret: Annotated[str | None, Header(alias=SECRET_HEADER)] = None,
) -> Response:
    check_secret(runtime.signer, org, secret)
    found = find_object(session, runtime, org, key)
    # Streaming may take a while: give the connection back first.
    session.close()
    headers = {
        "ETag": found.etag,
        "Accept-Ranges": "bytes",
        "Content-Type": found.content_type,
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, found.etag):
        return Response(status_code=304, headers=headers)
    status, first, last = 200, 0, found.size - 1
    asked = byte_range(request.headers.get("range", ""), found.size)
    if isinstance(asked, Unsatisfiable):
        headers["Content-Range"] = f"bytes */{found.size}"
        return Response(status_code=416, headers=headers)
    if asked is not None and request.headers.get("range"):
        status, (first, last) = 206, asked
        headers["Content-Range"] = f"bytes {first}-{last}/{found.size}"
    headers["Content-Length"] = str(max(last - first + 1, 0))
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    # Opening raises ObjectNotFound now, not halfway through the answer.
    chunks = found.open(
        first if status == 206 else None, last if status == 206 else None
    )
    return StreamingResponse(
        chunks, status_code=status, headers=headers, media_type=found.content_type
    )
