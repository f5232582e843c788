"""The authorization matrix: every route × every kind of caller.

The routes come from the app itself (not a list kept by hand), each with
the access rule it declares; the expected answer comes from this file's
own reading of what each rule means. A route whose rule this file does not
know, or whose path names a parameter it has no value for, fails the
suite, and so does a route that declares no rule at all (it cannot even
be built). The hand-written table in ``test_permissions.py`` checks that
allowed calls do what they should; this one checks that nobody else gets
past the gate, on every route there is.

Every call aims at resources that do not exist below the org (product
``nope`` …), so an admitted call answers 404 or 422 and changes nothing,
while a refused one answers 401 or 403 before it looks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from keeper.api.access import check_routes, rule_of
from keeper.api.routing import api_router
from keeper.app import create_app
from keeper.config import Settings
from tests.api.test_permissions import (
    ORG,
    create_org,
    create_product,
    create_token,
    expire_token,
)
from tests.conftest import Keeper, make_settings
from tests.settled import SettledClient

OTHER = "other"
ROLES = ("reader", "uploader", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
#: Tokens of these roles are made in both orgs (``edge`` stands aside from
#: the ranks: an agent's token).
TOKEN_ROLES = (*ROLES, "edge")


@dataclass(frozen=True)
class Caller:
    name: str
    #: reader, uploader, admin or superadmin; None for no valid token.
    role: str | None = None
    #: The org the token belongs to: the one the route names, or another.
    own: bool = True
    token: str | None = None


CALLERS = [
    Caller("anonymous"),
    Caller("invalid token", token="ltd_never-issued"),
    Caller("revoked admin of the org"),
    Caller("expired admin of the org"),
    *(Caller(f"{role} of the org", role) for role in TOKEN_ROLES),
    *(Caller(f"{role} of another org", role, own=False) for role in TOKEN_ROLES),
    Caller("superadmin", "superadmin"),
]

#: A value for every path parameter a route may have. Below the org, they
#: name nothing, so admitted calls change nothing.
PARAMS = {
    "org": ORG,
    "product": "nope",
    "edition": "nope",
    "build": "nope",
    "name": "nope.html",
    "token": "forged.c2lnbmF0dXJl",
    "key": "nope/index.html",
    "token_id": "999999",
    "job_id": "999999",
    "edge_id": "999999",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    rule: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            if name not in PARAMS:
                pytest.fail(
                    f"{self.id}: no value for path parameter {name!r} in PARAMS"
                )
            return PARAMS[name]

        return re.sub(r"\{([^}]+)\}", value, self.path)


def operations() -> list[Operation]:
    app = create_app(Settings(database_url="sqlite://"))
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # FastAPI's own schema and docs pages
        rule = rule_of(route)
        described = rule.describe() if rule is not None else {}
        for method in sorted(context.methods or ()):
            found.append(Operation(method, str(context.path), described))
    return found


OPERATIONS = operations()


def expected(operation: Operation, caller: Caller) -> int | None:
    """The status the gate must answer, or None when it must let the
    caller through to the route."""
    rule, role = operation.rule.get("rule"), operation.rule.get("role")
    valid = caller.role is not None
    if rule == "public":
        # Nobody is refused, but a token that comes along must be valid.
        return None if valid or caller.name == "anonymous" else 401
    if rule == "signed-url":
        return 403  # every call here carries a forged signature
    if not valid:
        return 401
    if caller.role == "superadmin":
        return None
    if rule == "superadmin":
        return 403
    if rule == "ltd-keeper-1" and role is None:
        return None  # GET /token: any valid token opens a session
    if rule == "org-role" and role == "edge":
        # An edge agent's routes: its org's edge tokens and admins.
        return None if caller.own and caller.role in ("edge", "admin") else 403
    if rule in ("org-role", "ltd-keeper-1") and role in RANK:
        if not caller.own or caller.role == "edge":
            return 403  # an edge token has no other right, not even a reader's
        assert caller.role is not None
        return None if RANK[caller.role] >= RANK[role] else 403
    pytest.fail(f"{operation.id}: the matrix has no expectation for rule {rule!r}")


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Keeper, dict[str, str]]]:
    """Org ``acme`` (the one the LTD Keeper 1.x routes act on) with a
    product, org ``other``, and a token of every role in each."""
    settings = make_settings(database_url, f"file://{tmp_path / 'storage'}", tmp_path)
    settings = settings.model_copy(update={"compat_org": ORG})
    with SettledClient(create_app(settings)) as client:
        keeper = Keeper(client, settings)
        create_org(keeper, ORG)
        create_org(keeper, OTHER)
        create_product(keeper, ORG, "docs")
        tokens = {"superadmin": keeper.auth()["Authorization"].split()[1]}
        for role in TOKEN_ROLES:
            tokens[f"{role} of the org"] = create_token(keeper, ORG, role)
            tokens[f"{role} of another org"] = create_token(keeper, OTHER, role)
        for ended in ("revoked", "expired"):
            made = keeper.client.post(
                f"/api/orgs/{ORG}/tokens", json={"role": "admin"}, headers=keeper.auth()
            ).json()
            tokens[f"{ended} admin of the org"] = made["token"]
            if ended == "expired":
                expire_token(keeper, made["id"])
            else:
                url = f"/api/orgs/{ORG}/tokens/{made['id']}"
                assert (
                    keeper.client.delete(url, headers=keeper.auth()).status_code == 204
                )
        yield keeper, tokens


def call(
    keeper: Keeper, operation: Operation, caller: Caller, tokens: dict[str, str]
) -> httpx.Response:
    secret = caller.token or tokens.get(caller.name)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    body: dict[str, object] = {}
    if operation.method in ("POST", "PUT", "PATCH"):
        body = {"json": {}}
    return keeper.client.request(
        operation.method, operation.url(), headers=headers, **body
    )


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.id)
def test_every_caller_gets_what_the_route_rule_says(
    world: tuple[Keeper, dict[str, str]], operation: Operation
) -> None:
    keeper, tokens = world
    wrong = []
    for caller in CALLERS:
        response = call(keeper, operation, caller, tokens)
        want = expected(operation, caller)
        got = response.status_code
        if want is None:
            if got in (401, 403) or got >= 500:
                wrong.append(
                    f"{caller.name}: {got} (should pass the gate) {response.text}"
                )
        elif got != want:
            wrong.append(f"{caller.name}: {got}, expected {want} {response.text}")
    assert not wrong, f"{operation.id} ({operation.rule}):\n" + "\n".join(wrong)


def test_the_matrix_covers_every_route_of_the_api() -> None:
    ids = {o.id for o in OPERATIONS}
    # Spot checks that the route table is really the app's: one route of
    # each router, and the routes outside the OpenAPI document.
    for known in (
        "POST /api/orgs",
        "PATCH /api/orgs/{org}/products/{product}/builds/{build}",
        "PUT /api/uploads/{token}",
        "GET /token",
        "GET /_edge/origin/{org}/{key:path}",
    ):
        assert known in ids
    assert all(o.rule for o in OPERATIONS)


def test_a_route_without_a_rule_cannot_be_declared() -> None:
    router = api_router(prefix="/x")
    with pytest.raises(RuntimeError, match="exactly one access rule"):

        @router.get("/unguarded")
        def unguarded() -> None: ...


def test_an_ungated_router_stops_keeper_from_starting() -> None:
    app = FastAPI()
    plain = APIRouter()

    @plain.get("/plain")
    def plain_route() -> None: ...

    app.include_router(plain)
    with pytest.raises(RuntimeError, match="not gated"):
        check_routes(app.routes)
