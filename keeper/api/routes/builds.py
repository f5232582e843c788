from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status
from sqlmodel import select

from keeper.api.access import PUBLIC, Admin, Uploader
from keeper.api.deps import PageDep, RuntimeDep, SessionDep, link_next
from keeper.api.present import build_fields, build_public
from keeper.api.routing import api_router, max_body
from keeper.api.schemas import (
    BuildConfirmed,
    BuildCreate,
    BuildCreated,
    BuildPublic,
    BuildUpdate,
    UploadInstruction,
    UploadRenewal,
)
from keeper.db import Build, BuildStatus
from keeper.domain.limits import MANIFEST_BODY_BYTES
from keeper.services.builds.confirm import confirm_build
from keeper.services.builds.delete import delete_build
from keeper.services.builds.register import (
    ManifestEntry,
    Upload,
    register_or_resume,
    renew_uploads,
)
from keeper.services.lookup import get_build, get_org, get_product
from keeper.services.pagination import Page, paginate

router = api_router(prefix="/orgs/{org}/products/{product}/builds", tags=["builds"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=max_body(MANIFEST_BODY_BYTES)
)
def create_build(
    org: str,
    product: str,
    body: BuildCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Uploader,
) -> BuildCreated:
    o = get_org(session, org)
    p = get_product(session, o, product)
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
    )
    build = registration.build
    return BuildCreated.model_validate(
        {
            **build_fields(build),
            "uploads": _instructions(registration.uploads),
            "reused": registration.reused,
            "resumed": registration.resumed,
        }
    )


@router.post("/{build}/uploads")
def renew_upload_urls(
    org: str,
    product: str,
    build: str,
    body: UploadRenewal,
    session: SessionDep,
    runtime: RuntimeDep,
    _: Uploader,
) -> list[UploadInstruction]:
    """Fresh upload URLs for files of a pending build (the old ones expired)."""
    o = get_org(session, org)
    p = get_product(session, o, product)
    uploads = renew_uploads(
        session, runtime, o, p, get_build(session, p, build), body.paths
    )
    return _instructions(uploads)


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
    org: str,
    product: str,
    session: SessionDep,
    page: PageDep,
    request: Request,
    response: Response,
    git_ref: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[BuildStatus | None, Query(alias="status")] = None,
) -> list[BuildPublic]:
    p = get_product(session, get_org(session, org), product)
    query = select(Build).where(Build.product_id == p.id)
    if git_ref is not None:
        query = query.where(Build.git_ref == git_ref)
    if status_ is not None:
        query = query.where(Build.status == status_)
    newest_first = Page(limit=page.limit, after=page.after, newest_first=True)
    result = paginate(session, query, Build.id, newest_first)
    link_next(request, response, result)
    return [build_public(b) for b in result.items]


@router.get("/{build}", dependencies=[PUBLIC])
def get_build_(org: str, product: str, build: str, session: SessionDep) -> BuildPublic:
    p = get_product(session, get_org(session, org), product)
    return build_public(get_build(session, p, build))


@router.patch("/{build}")
def update_build(
    org: str,
    product: str,
    build: str,
    body: BuildUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Uploader,
) -> BuildConfirmed:
    o = get_org(session, org)
    p = get_product(session, o, product)
    confirmed, moved = confirm_build(
        session, runtime, o, p, get_build(session, p, build), actor=who.label
    )
    return BuildConfirmed.model_validate(
        {**build_fields(confirmed), "editions": [e.slug for e in moved]}
    )


@router.delete("/{build}", status_code=status.HTTP_204_NO_CONTENT)
def delete_build_(
    org: str,
    product: str,
    build: str,
    session: SessionDep,
    runtime: RuntimeDep,
    _: Admin,
) -> None:
    o = get_org(session, org)
    p = get_product(session, o, product)
    delete_build(session, runtime.stores, o, p, get_build(session, p, build))
