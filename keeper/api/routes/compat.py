"""The LTD Keeper 1.x routes that released ``ltd-conveyor`` 0.8 uses, at
the app root where that client looks for them (``LTD_HOST``)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

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
from keeper.api.deps import RuntimeDep, SessionDep
from keeper.db import Role
from keeper.services.auth import authorize
from keeper.services.compat.confirm import confirm_compat_build
from keeper.services.compat.lookup import find_build, product_of, products_of
from keeper.services.compat.org import compat_org
from keeper.services.compat.register import register_compat_build
from keeper.services.compat.sessions import Caller, identify, open_session
from keeper.services.errors import Invalid, Unauthorized
from keeper.services.lookup import get_product

router = APIRouter(tags=["ltd-keeper-1.x"])


@dataclass(frozen=True)
class Credentials:
    secret: str
    username: str | None


def get_credentials(request: Request) -> Credentials:
    """LTD's basic auth: the keeper token is the password, or the username
    when the password is empty (how clients send a /token session back)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credentials(value.strip(), None)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise Unauthorized("the basic credentials are malformed") from exc
        username, _, password = decoded.partition(":")
        if password:
            return Credentials(password, username or None)
        if username:
            return Credentials(username, None)
    raise Unauthorized(
        "use HTTP basic auth with a keeper token as the password "
        "(or a /token session as the username)"
    )


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]


def get_caller(
    credentials: CredentialsDep, session: SessionDep, runtime: RuntimeDep
) -> Caller:
    return identify(session, runtime, credentials.secret)


CallerDep = Annotated[Caller, Depends(get_caller)]


@router.get("/")
def root(runtime: RuntimeDep) -> RootResponse:
    return root_response(runtime.settings)


@router.get("/token")
def token(
    credentials: CredentialsDep, session: SessionDep, runtime: RuntimeDep
) -> TokenResponse:
    secret = open_session(
        session, runtime, secret=credentials.secret, username=credentials.username
    )
    return TokenResponse(token=secret)


@router.get("/products/")
def list_products(session: SessionDep, runtime: RuntimeDep) -> ProductsResponse:
    org = compat_org(session, runtime.settings)
    return ProductsResponse(
        products=[
            product_self_url(runtime.settings, p) for p in products_of(session, org)
        ]
    )


@router.get("/products/{product}")
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
    caller: CallerDep,
) -> BuildResponse:
    org = compat_org(session, runtime.settings)
    authorize(caller.principal, org, Role.uploader)
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


@router.get("/builds/{build}")
def get_build_(build: str, session: SessionDep, runtime: RuntimeDep) -> BuildResponse:
    org = compat_org(session, runtime.settings)
    row = find_build(session, org, build)
    return build_response(runtime.settings, org, product_of(session, row), row)


@router.patch("/builds/{build}")
def update_build(
    build: str,
    body: BuildPatch,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
) -> BuildResponse:
    org = compat_org(session, runtime.settings)
    authorize(caller.principal, org, Role.uploader)
    if body.uploaded is not True:
        raise Invalid('the only change a build takes here is {"uploaded": true}')
    confirmed, _ = confirm_compat_build(
        session, runtime, org, find_build(session, org, build), actor=caller.label
    )
    product = product_of(session, confirmed)
    return build_response(runtime.settings, org, product, confirmed)
