"""The LTD Keeper 1.x routes that released ``ltd-conveyor`` 0.8 uses, at
the app root where that client looks for them (``LTD_HOST``)."""

from __future__ import annotations

from fastapi import Response, status

from keeper.api.access import PUBLIC, CompatToken, CompatUploader
from keeper.api.compat_schemas import (
    BuildPatch,
    BuildRequest,
    BuildResponse,
    ProductResponse,
    ProductsResponse,
    RootResponse,
    TokenResponse,
    build_response,
    build_url,
    product_response,
    product_self_url,
    root_response,
)
from keeper.api.deps import EngineDep, RuntimeDep, SessionDep
from keeper.api.routing import api_router
from keeper.db.types import pk
from keeper.services.compat.confirm import confirm_compat_build
from keeper.services.compat.lookup import find_build, product_of, products_of
from keeper.services.compat.org import compat_org
from keeper.services.compat.register import register_compat_build
from keeper.services.compat.sessions import open_session
from keeper.services.lookup import get_product

router = api_router(tags=["ltd-keeper-1.x"])


@router.get("/", dependencies=[PUBLIC])
def root(runtime: RuntimeDep) -> RootResponse:
    return root_response(runtime.settings)


@router.get("/token")
def token(caller: CompatToken, runtime: RuntimeDep) -> TokenResponse:
    return TokenResponse(token=open_session(runtime, caller))


@router.get("/products/", dependencies=[PUBLIC])
def list_products(session: SessionDep, runtime: RuntimeDep) -> ProductsResponse:
    org = compat_org(session, runtime.settings)
    return ProductsResponse(
        products=[
            product_self_url(runtime.settings, p) for p in products_of(session, org)
        ]
    )


@router.get("/products/{product}", dependencies=[PUBLIC])
def get_product_(
    product: str, session: SessionDep, runtime: RuntimeDep
) -> ProductResponse:
    org = compat_org(session, runtime.settings)
    return product_response(runtime.settings, org, get_product(session, org, product))


@router.post("/products/{product}/builds/", status_code=status.HTTP_201_CREATED)
def create_build(
    product: str,
    body: BuildRequest,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CompatUploader,
) -> BuildResponse:
    org = compat_org(session, runtime.settings)
    p = get_product(session, org, product)
    registration = register_compat_build(
        session,
        runtime,
        org,
        p,
        git_refs=body.refs(),
        directories=body.directories,
        uploader=caller.label,
        requester=body.github_requester,
    )
    response.headers["Location"] = build_url(runtime.settings, registration.build)
    return build_response(runtime.settings, org, p, registration.build, registration)


@router.get("/builds/{build}", dependencies=[PUBLIC])
def get_build_(build: str, session: SessionDep, runtime: RuntimeDep) -> BuildResponse:
    org = compat_org(session, runtime.settings)
    row = find_build(session, org, build)
    return build_response(runtime.settings, org, product_of(session, row), row)


@router.patch("/builds/{build}")
def update_build(
    build: str,
    body: BuildPatch,
    engine: EngineDep,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CompatUploader,
) -> BuildResponse:
    org = compat_org(session, runtime.settings)
    found = find_build(session, org, build)
    session.close()  # no transaction stays open while the build is verified
    confirmed = confirm_compat_build(engine, runtime, pk(found), actor=caller.label)
    product = product_of(session, confirmed)
    return build_response(runtime.settings, org, product, confirmed)
