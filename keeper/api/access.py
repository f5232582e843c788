"""Who may call each route: one rule per route, decided before the body.

Every route of the API declares exactly one rule as a dependency (see
:data:`PUBLIC`, :class:`TokenRole` …). :class:`keeper.api.routing.KeeperRoute`
admits the caller by that rule *before* FastAPI reads or validates the
body, and keeps the result in the request's state; the dependency then
hands it to the endpoint. An anonymous 100 MB body is thus refused from
its headers alone, and a route without a rule cannot be declared.

The rules also document themselves: the OpenAPI operation of each route
names its rule under ``x-keeper-access``, and routes that take a token
declare the bearer scheme, which is what the authorization matrix in the
tests and schemathesis read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request, Security
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer
from fastapi.security.http import HTTPBasicCredentials
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.routing import BaseRoute

from keeper.api.credentials import basic_or_bearer, bearer_secret
from keeper.db import Role
from keeper.services.auth import Principal, authenticate, authorize
from keeper.services.compat.org import compat_org
from keeper.services.compat.sessions import Caller, identify
from keeper.services.lookup import get_org
from keeper.services.runtime import Runtime

#: Key of the admitted caller in the request's state.
ADMITTED = "keeper_admitted"
#: Where an OpenAPI operation names its rule.
ACCESS_KEY = "x-keeper-access"

# Declared only for the documentation (auto_error=False: the gate decides).
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A keeper token: `Authorization: Bearer ltd_…`.",
)
_basic = HTTPBasic(
    auto_error=False,
    scheme_name="ltd-keeper-1",
    description="LTD Keeper 1.x: a keeper token (or a /token session) as "
    "the basic-auth password, or as the username with an empty password.",
)


def admitted(request: Request) -> Any:
    """What the gate admitted for this request (see :class:`Rule`)."""
    return request.scope.get("state", {}).get(ADMITTED)


class Rule:
    """How a route admits its caller; also the dependency that returns it."""

    #: Short name shown in the OpenAPI document (``x-keeper-access``).
    name: ClassVar[str]

    def admit(
        self,
        session: Session,
        runtime: Runtime,
        headers: Headers,
        params: dict[str, Any],
    ) -> object:
        """The admitted caller, or raise a :class:`KeeperError` (401/403/404)."""
        return None

    def describe(self) -> dict[str, str]:
        return {"rule": self.name}

    def __call__(self, request: Request) -> Any:
        return admitted(request)


@dataclass(frozen=True, eq=False)
class _Public(Rule):
    """Anyone, with or without a token (reads). A bearer token that comes
    along is still checked: a revoked or expired one gets 401 everywhere,
    so a CI job holding one learns at once."""

    name: ClassVar[str] = "public"

    def admit(
        self,
        session: Session,
        runtime: Runtime,
        headers: Headers,
        params: dict[str, Any],
    ) -> Principal | None:
        scheme, _, _ = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None  # anonymous, or LTD 1.x basic auth on a read
        return authenticate(session, bearer_secret(headers))


@dataclass(frozen=True, eq=False)
class _SignedUrl(Rule):
    """The URL itself is the credential (keeper's signed upload URLs, the
    edge origin's HMAC): the route checks it before reading the body."""

    name: ClassVar[str] = "signed-url"


@dataclass(frozen=True, eq=False)
class TokenRole(Rule):
    """A keeper token holding at least ``role`` in the org the path names
    (``{org}``), or a superadmin token; ``Role.superadmin`` itself is for
    actions on the platform rather than one org."""

    role: Role

    @property
    def name(self) -> str:  # type: ignore[override]
        return "superadmin" if self.role is Role.superadmin else "org-role"

    def admit(
        self,
        session: Session,
        runtime: Runtime,
        headers: Headers,
        params: dict[str, Any],
    ) -> Principal:
        principal = authenticate(session, bearer_secret(headers))
        platform = self.role is Role.superadmin
        org = None if platform else get_org(session, params["org"])
        return authorize(principal, org, self.role)

    def describe(self) -> dict[str, str]:
        if self.role is Role.superadmin:
            return {"rule": self.name}
        return {"rule": self.name, "role": self.role.value}

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        _doc: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        principal: Principal = admitted(request)
        return principal


@dataclass(frozen=True, eq=False)
class CompatRole(Rule):
    """LTD Keeper 1.x credentials of a token holding ``role`` in the org
    those routes act on: basic auth with the token, or a ``/token`` session.

    ``role=None`` is ``GET /token`` itself: any valid keeper token, and
    never a session (a session cannot extend itself).
    """

    role: Role | None
    name: ClassVar[str] = "ltd-keeper-1"

    def admit(
        self,
        session: Session,
        runtime: Runtime,
        headers: Headers,
        params: dict[str, Any],
    ) -> Caller:
        secret, username = basic_or_bearer(headers)
        if self.role is None:
            return Caller(authenticate(session, secret), username)
        caller = identify(session, runtime, secret)
        authorize(caller.principal, compat_org(session, runtime.settings), self.role)
        return caller

    def describe(self) -> dict[str, str]:
        found = {"rule": self.name}
        if self.role is not None:
            found["role"] = self.role.value
        return found

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        _doc: Annotated[HTTPBasicCredentials | None, Security(_basic)],
    ) -> Caller:
        caller: Caller = admitted(request)
        return caller


PUBLIC_RULE = _Public()
SIGNED_URL_RULE = _SignedUrl()

#: Route-level dependencies, for routes whose endpoint needs no caller.
PUBLIC = Depends(PUBLIC_RULE)
SIGNED_URL = Depends(SIGNED_URL_RULE)

#: Endpoint parameters: the admitted caller, by the rule they name.
Reader = Annotated[Principal, Depends(TokenRole(Role.reader))]
Uploader = Annotated[Principal, Depends(TokenRole(Role.uploader))]
Admin = Annotated[Principal, Depends(TokenRole(Role.admin))]
Superadmin = Annotated[Principal, Depends(TokenRole(Role.superadmin))]
#: ``keeper edge agent`` (an edge token), or the org's admins.
EdgeAgent = Annotated[Principal, Depends(TokenRole(Role.edge))]
CompatUploader = Annotated[Caller, Depends(CompatRole(Role.uploader))]
CompatToken = Annotated[Caller, Depends(CompatRole(None))]


def admit(rule: Rule, request: Request) -> object:
    """Admit the caller of ``request`` by ``rule`` (blocking: it may ask
    the database); raises :class:`KeeperError` for 401, 403 and 404."""
    engine: Engine = request.app.state.engine
    runtime: Runtime = request.app.state.runtime
    with Session(engine) as session:
        return rule.admit(session, runtime, request.headers, request.path_params)


def rule_of(route: APIRoute) -> Rule | None:
    """The one rule a route declared, if it declared exactly one."""
    found = [d.call for d in route.dependant.dependencies if isinstance(d.call, Rule)]
    return found[0] if len(found) == 1 else None


def check_routes(routes: Sequence[BaseRoute]) -> None:
    """Refuse to start with an API route that is not a gated one (from a
    router made without :func:`keeper.api.routing.api_router`)."""
    from keeper.api.routing import KeeperRoute

    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, APIRoute) and not isinstance(route, KeeperRoute):
            raise RuntimeError(
                f"{context.path} is not gated: make its router with "
                "keeper.api.routing.api_router"
            )
