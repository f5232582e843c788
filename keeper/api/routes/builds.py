from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from keeper.api.access import PUBLIC, Admin, Uploader
from keeper.api.deps import (
    OrgDep,
    PageDep,
    ProductDep,
    RuntimeDep,
    SessionDep,
    link_next,
)
from keeper.api.present import build_fields, build_public
from keeper.api.routing import api_router, max_body
from keeper.api.schemas import (
    BuildCreate,
    BuildCreated,
    BuildPublic,
    BuildUpdate,
    UploadInstruction,
    UploadRenewal,
    UploadsQueued,
    UploadsSent,
)
from keeper.db import BuildStatus
from keeper.domain.limits import MANIFEST_BODY_BYTES
from keeper.services.builds.confirm import request_confirmation
from keeper.services.builds.delete import delete_build
from keeper.services.builds.early import note_sent
from keeper.services.builds.listing import list_product_builds
from keeper.services.builds.register import (
    ManifestEntry,
    Upload,
    register_or_resume,
    renew_uploads,
)
from keeper.services.lookup import get_build

router = api_router(prefix="/orgs/{org}/products/{product}/builds", tags=["builds"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=max_body(MANIFEST_BODY_BYTES)
)
def create_build(
    o: OrgDep,
    p: ProductDep,
    body: BuildCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Uploader,
) -> BuildCreated:
    registration = register_or_resume(
        session,
        runtime,
        o,
        p,
        git_ref=body.git_ref,
        git_refs=body.git_refs,
        alternate_name=body.alternate_name,
        ci=body.ci,
        uploader=who.label,
        manifest=[ManifestEntry(**f.model_dump()) for f in body.manifest],
        first_urls=body.first_urls,
    )
    build = registration.build
    return BuildCreated.model_validate(
        {
            **build_fields(build),
            "uploads": _instructions(registration.uploads),
            "reused": registration.reused,
            "resumed": registration.resumed,
            "more_uploads": registration.more,
        }
    )


@router.post("/{build}/uploads")
def renew_upload_urls(
    o: OrgDep,
    p: ProductDep,
    build: str,
    body: UploadRenewal,
    session: SessionDep,
    runtime: RuntimeDep,
    _: Uploader,
) -> list[UploadInstruction]:
    """Fresh upload URLs for files of a pending build (the old ones expired)."""
    uploads = renew_uploads(
        session, runtime, o, p, get_build(session, p, build), body.paths
    )
    return _instructions(uploads)


@router.post("/{build}/sent", status_code=status.HTTP_202_ACCEPTED)
def note_sent_uploads(
    o: OrgDep,
    p: ProductDep,
    build: str,
    body: UploadsSent,
    session: SessionDep,
    _: Uploader,
) -> UploadsQueued:
    """Files of a pending build the client has sent: keeper hashes and
    places them now, so that confirming the build has less left to do."""
    queued = note_sent(session, p, get_build(session, p, build), body.paths)
    return UploadsQueued(queued=queued)


def _instructions(uploads: list[Upload]) -> list[UploadInstruction]:
    return [
        UploadInstruction(
            path=u.path,
            url=u.target.url,
            method=u.target.method,
            headers=u.target.headers,
        )
        for u in uploads
    ]


@router.get("", dependencies=[PUBLIC])
def list_builds(
    p: ProductDep,
    session: SessionDep,
    page: PageDep,
    request: Request,
    response: Response,
    git_ref: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[BuildStatus | None, Query(alias="status")] = None,
) -> list[BuildPublic]:
    result = list_product_builds(session, p, page, git_ref=git_ref, status=status_)
    link_next(request, response, result)
    return [build_public(b) for b in result.items]


@router.get("/{build}", dependencies=[PUBLIC])
def get_build_(p: ProductDep, build: str, session: SessionDep) -> BuildPublic:
    return build_public(get_build(session, p, build))


@router.patch(
    "/{build}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"model": BuildPublic, "description": "already complete"}},
)
def update_build(
    p: ProductDep,
    build: str,
    body: BuildUpdate,
    session: SessionDep,
    response: Response,
    who: Uploader,
) -> BuildPublic:
    """Confirm that every file is uploaded: 202 with the build
    ``processing`` once its verification is queued; it becomes ``complete``
    (editions re-pointed) or ``failed`` (``error`` names the files). A build
    already complete answers 200."""
    b = get_build(session, p, build)
    if not request_confirmation(session, p, b, actor=who.label):
        response.status_code = status.HTTP_200_OK
    return build_public(b)


@router.delete("/{build}", status_code=status.HTTP_204_NO_CONTENT)
def delete_build_(
    o: OrgDep,
    p: ProductDep,
    build: str,
    session: SessionDep,
    runtime: RuntimeDep,
    _: Admin,
) -> None:
    delete_build(session, runtime, o, p, get_build(session, p, build))
