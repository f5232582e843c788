"""Who may call which write route, and that every read route is public.

The table below lists every write route of the API with the status each
kind of caller gets. A refused call must answer with the one error shape and
leave everything the API shows exactly as it was; an allowed call must
change something.

The helpers at the top (org, product, tokens, a completed build) are shared
with the other modules of this package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from keeper.db import Job, JobStatus, Organization, Token
from tests.conftest import BOOTSTRAP, Keeper
from tests.publishing import confirm, manifest_of, upload

ORG = "acme"
PRODUCT = "docs"
OTHER_ORG = "other"
PRODUCTS = f"/api/orgs/{ORG}/products"
DOCS = f"{PRODUCTS}/{PRODUCT}"

Files = dict[str, bytes]
Json = Any

# -- helpers shared by the API tests ------------------------------------------


def assert_error(response: httpx.Response, status: int, error_type: str | None) -> str:
    """Assert the status and the one error shape; return the first message.

    ``error_type`` is the type of the first error; None accepts any.
    """
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["detail"], body
    assert isinstance(body["detail"], list) and body["detail"], body
    for item in body["detail"]:
        assert isinstance(item["type"], str) and item["type"], body
        assert isinstance(item["msg"], str) and item["msg"], body
    if error_type is not None:
        assert body["detail"][0]["type"] == error_type, body
    msg: str = body["detail"][0]["msg"]
    return msg


def ok(response: httpx.Response, status: int = 200) -> Json:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def create_org(keeper: Keeper, slug: str = ORG, **fields: Any) -> Json:
    body = {"slug": slug, "title": slug.title(), **fields}
    return ok(keeper.client.post("/api/orgs", json=body, headers=keeper.auth()), 201)


def create_product(
    keeper: Keeper, org: str = ORG, slug: str = PRODUCT, **fields: Any
) -> Json:
    body = {"slug": slug, "title": slug.title(), **fields}
    url = f"/api/orgs/{org}/products"
    return ok(keeper.client.post(url, json=body, headers=keeper.auth()), 201)


def create_token(keeper: Keeper, org: str, role: str) -> str:
    """A new token of ``role`` in ``org``, made with the superadmin token."""
    response = keeper.client.post(
        f"/api/orgs/{org}/tokens",
        json={"role": role, "name": f"{role} of {org}"},
        headers=keeper.auth(),
    )
    token: str = ok(response, 201)["token"]
    return token


def site(label: str) -> Files:
    return {
        "index.html": f"<h1>{label}</h1>".encode(),
        f"{label}.html": f"<p>only in {label}</p>".encode(),
    }


manifest = manifest_of


def register_build(
    keeper: Keeper,
    git_ref: str = "main",
    files: Files | None = None,
    *,
    product_url: str = DOCS,
    token: str = BOOTSTRAP,
) -> Json:
    """POST a build; returns the response body (with its upload list)."""
    files = site(git_ref.replace("/", "-")) if files is None else files
    body = {"git_ref": git_ref, "manifest": manifest(files)}
    url = f"{product_url}/builds"
    return ok(keeper.client.post(url, json=body, headers=keeper.auth(token)), 201)


def upload_files(keeper: Keeper, build: Json, files: Files) -> None:
    """PUT each file keeper asked for to the URL it handed out."""
    upload(keeper.client, build, files)


def confirm_build(
    keeper: Keeper, build_id: str, *, product_url: str = DOCS, token: str = BOOTSTRAP
) -> httpx.Response:
    return confirm(keeper.client, product_url, keeper.auth(token), build_id)


def uploaded_build(
    keeper: Keeper, git_ref: str = "main", *, product_url: str = DOCS
) -> str:
    """A build whose files are all uploaded but that nobody confirmed yet."""
    files = site(git_ref.replace("/", "-"))
    build = register_build(keeper, git_ref, files, product_url=product_url)
    upload_files(keeper, build, files)
    build_id: str = build["id"]
    return build_id


def publish_build(
    keeper: Keeper, git_ref: str = "main", *, product_url: str = DOCS
) -> str:
    """Register, upload and confirm a build; returns its id once complete."""
    build_id = uploaded_build(keeper, git_ref, product_url=product_url)
    confirmed = ok(confirm_build(keeper, build_id, product_url=product_url))
    assert confirmed["status"] == "complete", confirmed
    return build_id


def list_all(keeper: Keeper, url: str) -> list[Json]:
    """Every item of a list endpoint, following the Link header."""
    items: list[Json] = []
    next_url: str | None = url
    while next_url:
        response = keeper.client.get(next_url)
        items += ok(response)
        next_url = response.links.get("next", {}).get("url")
    return items


def visible_state(keeper: Keeper) -> dict[str, Json]:
    """Everything the read API shows, to compare before and after a call
    (tokens as the superadmin sees them, but when they were last used:
    a refused call still uses its token)."""
    state: dict[str, Json] = {}
    for org in list_all(keeper, "/api/orgs"):
        org_url = f"/api/orgs/{org['slug']}"
        state[org_url] = org
        tokens = ok(keeper.client.get(f"{org_url}/tokens", headers=keeper.auth()))
        state[f"{org_url}/tokens"] = [
            {k: v for k, v in t.items() if k != "last_used"} for t in tokens
        ]
        for listing in ("jobs", "edges"):
            state[f"{org_url}/{listing}"] = ok(
                keeper.client.get(f"{org_url}/{listing}", headers=keeper.auth())
            )
        for product in list_all(keeper, f"{org_url}/products"):
            product_url = f"{org_url}/products/{product['slug']}"
            state[product_url] = product
            state[f"{product_url}/builds"] = list_all(keeper, f"{product_url}/builds")
            for edition in list_all(keeper, f"{product_url}/editions"):
                edition_url = f"{product_url}/editions/{edition['slug']}"
                state[edition_url] = edition
                state[f"{edition_url}/history"] = list_all(
                    keeper, f"{edition_url}/history"
                )
    return state


# -- the world every permission test starts from --------------------------------

CALLERS = (
    "anonymous",
    "invalid token",
    "reader",
    "uploader",
    "admin",
    "admin of another org",
    "superadmin",
)


@dataclass
class World:
    """Org ``acme`` with product ``docs``: ``__main`` shows a complete build
    and edition ``extra`` (tracking ``feature``) shows nothing yet."""

    keeper: Keeper
    build_id: str
    tokens: dict[str, str]

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller == "invalid token":
            return self.keeper.auth("ltd_this-token-was-never-issued")
        return self.keeper.auth(self.tokens[caller])


@pytest.fixture
def world(keeper: Keeper) -> World:
    return make_world(keeper)


def make_world(keeper: Keeper) -> World:
    create_org(keeper, ORG)
    create_org(keeper, OTHER_ORG)
    create_product(keeper, ORG, PRODUCT)
    build_id = publish_build(keeper, "main")
    ok(
        keeper.client.post(
            f"{DOCS}/editions",
            json={
                "slug": "extra",
                "tracking_mode": "git_ref",
                "tracking_params": {"git_ref": "feature"},
            },
            headers=keeper.auth(),
        ),
        201,
    )
    tokens = {role: create_token(keeper, ORG, role) for role in CALLERS[2:5]}
    tokens["admin of another org"] = create_token(keeper, OTHER_ORG, "admin")
    tokens["superadmin"] = BOOTSTRAP
    return World(keeper, build_id, tokens)


# -- every write route ----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    json: Json = None


@dataclass(frozen=True)
class WriteRoute:
    #: Method and path template as the OpenAPI schema names them.
    endpoint: str
    #: Makes the call under test; may first set the world up as superadmin.
    call: Callable[[World], Call]
    #: Status per caller, in the order of CALLERS.
    expected: tuple[int, ...]


def _delete_emptied_org(w: World) -> Call:
    ok(w.keeper.client.delete(DOCS, headers=w.keeper.auth()), 204)
    return Call("DELETE", f"/api/orgs/{ORG}")


def _confirm_uploaded_build(w: World) -> Call:
    build_id = uploaded_build(w.keeper, "feature")
    return Call("PATCH", f"{DOCS}/builds/{build_id}", {"status": "uploaded"})


def _delete_unpublished_build(w: World) -> Call:
    build_id = register_build(w.keeper, "feature")["id"]
    return Call("DELETE", f"{DOCS}/builds/{build_id}")


def _renew_upload_urls(w: World) -> Call:
    build_id = register_build(w.keeper, "feature")["id"]
    return Call("POST", f"{DOCS}/builds/{build_id}/uploads", {"paths": ["index.html"]})


def _say_files_sent(w: World) -> Call:
    build = register_build(w.keeper, "feature")
    return Call("POST", f"{DOCS}/builds/{build['id']}/sent", {"paths": ["index.html"]})


def _revoke_a_token(w: World) -> Call:
    response = w.keeper.client.post(
        f"/api/orgs/{ORG}/tokens", json={"role": "reader"}, headers=w.keeper.auth()
    )
    return Call("DELETE", f"/api/orgs/{ORG}/tokens/{ok(response, 201)['id']}")


def _retry_a_failed_job(w: World) -> Call:
    """A job that gave up (rendering a product that is gone since)."""
    engine = w.keeper.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        org = session.exec(select(Organization).where(Organization.slug == ORG)).one()
        job = Job(
            kind="render_pages",
            key="product:999999",
            org_id=org.id,
            product_id=999999,
            status=JobStatus.failed,
            attempts=8,
            error="the store was away",
        )
        session.add(job)
        session.commit()
        return Call("POST", f"/api/orgs/{ORG}/jobs/{job.id}/retry")


AGENT_EDGE = {"target": "nginx", "listen": "127.0.0.1:8080", "out": "/srv/edge"}


def _agents_edge(w: World) -> str:
    """The URL of an agent's edge, recorded by the superadmin."""
    edge = ok(
        w.keeper.client.post(
            f"/api/orgs/{ORG}/edges", json=AGENT_EDGE, headers=w.keeper.auth()
        ),
        201,
    )
    return f"/api/orgs/{ORG}/edges/{edge['id']}"


def _forget_an_agents_edge(w: World) -> Call:
    return Call("DELETE", _agents_edge(w))


def _report_an_agents_edge(w: World) -> Call:
    report = {"version": "v1", "error": "nginx -t failed"}
    return Call("POST", f"{_agents_edge(w)}/status", report)


def _reset_overridden_template(w: World) -> Call:
    url = f"/api/orgs/{ORG}/templates/404.html"
    ok(
        w.keeper.client.put(
            url, json={"source": "<p>gone</p>"}, headers=w.keeper.auth()
        )
    )
    return Call("DELETE", url)


NEW_BUILD = {"git_ref": "feature", "manifest": manifest(site("feature"))}

WRITE_ROUTES = [
    # anonymous, invalid token, reader, uploader, admin, other org, superadmin
    WriteRoute(
        "POST /api/orgs",
        lambda w: Call("POST", "/api/orgs", {"slug": "newco", "title": "New"}),
        (401, 401, 403, 403, 403, 403, 201),
    ),
    WriteRoute(
        "PATCH /api/orgs/{org}",
        lambda w: Call("PATCH", f"/api/orgs/{ORG}", {"title": "Renamed"}),
        (401, 401, 403, 403, 200, 403, 200),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}",
        _delete_emptied_org,
        (401, 401, 403, 403, 403, 403, 204),
    ),
    WriteRoute(
        "PUT /api/orgs/{org}/templates/{name}",
        lambda w: Call(
            "PUT",
            f"/api/orgs/{ORG}/templates/404.html",
            {"source": "<p>{{ product_title }} has no such page</p>"},
        ),
        (401, 401, 403, 403, 200, 403, 200),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}/templates/{name}",
        _reset_overridden_template,
        (401, 401, 403, 403, 204, 403, 204),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/products",
        lambda w: Call("POST", PRODUCTS, {"slug": "guide", "title": "Guide"}),
        (401, 401, 403, 403, 201, 403, 201),
    ),
    WriteRoute(
        "PATCH /api/orgs/{org}/products/{product}",
        lambda w: Call("PATCH", DOCS, {"title": "Renamed"}),
        (401, 401, 403, 403, 200, 403, 200),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}/products/{product}",
        lambda w: Call("DELETE", DOCS),
        (401, 401, 403, 403, 204, 403, 204),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/products/{product}/editions",
        lambda w: Call(
            "POST",
            f"{DOCS}/editions",
            {"slug": "beta", "tracking_params": {"git_ref": "beta"}},
        ),
        (401, 401, 403, 403, 201, 403, 201),
    ),
    WriteRoute(
        "PATCH /api/orgs/{org}/products/{product}/editions/{edition}",
        lambda w: Call("PATCH", f"{DOCS}/editions/extra", {"title": "Renamed"}),
        (401, 401, 403, 403, 200, 403, 200),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}/products/{product}/editions/{edition}",
        lambda w: Call("DELETE", f"{DOCS}/editions/extra"),
        (401, 401, 403, 403, 204, 403, 204),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/products/{product}/editions/{edition}/rollback",
        lambda w: Call(
            "POST", f"{DOCS}/editions/extra/rollback", {"build": w.build_id}
        ),
        (401, 401, 403, 403, 200, 403, 200),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/products/{product}/builds",
        lambda w: Call("POST", f"{DOCS}/builds", NEW_BUILD),
        (401, 401, 403, 201, 201, 403, 201),
    ),
    WriteRoute(
        "PATCH /api/orgs/{org}/products/{product}/builds/{build}",
        _confirm_uploaded_build,
        (401, 401, 403, 202, 202, 403, 202),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/products/{product}/builds/{build}/uploads",
        _renew_upload_urls,
        (401, 401, 403, 200, 200, 403, 200),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/products/{product}/builds/{build}/sent",
        _say_files_sent,
        (401, 401, 403, 202, 202, 403, 202),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}/products/{product}/builds/{build}",
        _delete_unpublished_build,
        (401, 401, 403, 403, 204, 403, 204),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/tokens",
        lambda w: Call("POST", f"/api/orgs/{ORG}/tokens", {"role": "reader"}),
        (401, 401, 403, 403, 201, 403, 201),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}/tokens/{token_id}",
        _revoke_a_token,
        (401, 401, 403, 403, 204, 403, 204),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/jobs/{job_id}/retry",
        _retry_a_failed_job,
        (401, 401, 403, 403, 200, 403, 200),
    ),
    WriteRoute(
        "POST /api/orgs/{org}/edges",
        lambda w: Call("POST", f"/api/orgs/{ORG}/edges", AGENT_EDGE),
        (401, 401, 403, 403, 201, 403, 201),
    ),
    WriteRoute(
        "DELETE /api/orgs/{org}/edges/{edge_id}",
        _forget_an_agents_edge,
        (401, 401, 403, 403, 204, 403, 204),
    ),
    # An agent's report: its edge token (tests/edge/test_agent.py) or an admin.
    WriteRoute(
        "POST /api/orgs/{org}/edges/{edge_id}/status",
        _report_an_agents_edge,
        (401, 401, 403, 403, 204, 403, 204),
    ),
]


def openapi_endpoints(keeper: Keeper) -> set[str]:
    """Every endpoint of keeper's own API. The LTD Keeper 1.x routes outside
    /api take LTD's basic auth and act on one org: tests/compat covers who
    may call them."""
    paths = keeper.client.get("/openapi.json").json()["paths"]
    return {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/api")
    }


def test_the_table_covers_every_write_route_of_the_app(keeper: Keeper) -> None:
    """A new write route must be added to WRITE_ROUTES. Uploads are exempt:
    a signed URL, not a token, authorizes them."""
    uploads = {"PUT /api/uploads/{token}", "POST /api/uploads/form/{token}"}
    writes = {
        endpoint
        for endpoint in openapi_endpoints(keeper)
        if not endpoint.startswith("GET ") and endpoint not in uploads
    }
    assert writes == {route.endpoint for route in WRITE_ROUTES}


@pytest.mark.parametrize(
    ("route", "caller", "expected"),
    [
        pytest.param(route, caller, status, id=f"{route.endpoint} as {caller}")
        for route in WRITE_ROUTES
        for caller, status in zip(CALLERS, route.expected, strict=True)
    ],
)
def test_write_route_answers_each_caller(
    world: World, route: WriteRoute, caller: str, expected: int
) -> None:
    call = route.call(world)
    before = visible_state(world.keeper)

    response = world.keeper.client.request(
        call.method, call.url, json=call.json, headers=world.headers(caller)
    )

    after = visible_state(world.keeper)
    if expected == 401:
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert after == before
    elif expected == 403:
        assert_error(response, 403, "forbidden")
        assert after == before
    else:
        assert response.status_code == expected, response.text
        if route.endpoint == "POST /api/orgs/{org}/tokens":
            # Tokens are not listed anywhere; the new one must authenticate
            # (a reader is refused with 403, a bad token would get 401).
            token = response.json()["token"]
            refused = world.keeper.client.post(
                PRODUCTS,
                json={"slug": "guide", "title": "Guide"},
                headers=world.keeper.auth(token),
            )
            assert_error(refused, 403, "forbidden")
        elif route.endpoint.endswith("/uploads"):
            # Handing out fresh URLs changes nothing until they are used.
            assert [u["path"] for u in response.json()] == ["index.html"]
        elif route.endpoint.endswith("/sent"):
            # Queued for placing (nothing was uploaded: nothing is placed).
            assert response.json() == {"queued": 1}
        else:
            assert after != before


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", BOOTSTRAP, "Token " + BOOTSTRAP],
)
def test_malformed_authorization_header_is_refused(world: World, header: str) -> None:
    response = world.keeper.client.patch(
        f"/api/orgs/{ORG}", json={"title": "Renamed"}, headers={"Authorization": header}
    )
    assert_error(response, 401, "unauthorized")
    assert world.keeper.client.get(f"/api/orgs/{ORG}").json()["title"] == "Acme"


def expire_token(keeper: Keeper, token_id: int) -> None:
    """Move a token's expiry into the past, as time would (the API takes
    only future expiries)."""
    engine = keeper.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        token = session.get(Token, token_id)
        assert token is not None
        token.expires = datetime.now(UTC) - timedelta(seconds=1)
        session.add(token)
        session.commit()


def test_expired_token_is_refused(world: World) -> None:
    response = world.keeper.client.post(
        f"/api/orgs/{ORG}/tokens",
        json={
            "role": "admin",
            "expires": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        headers=world.keeper.auth(),
    )
    created = ok(response, 201)
    expired = created["token"]
    expire_token(world.keeper, created["id"])
    refused = world.keeper.client.patch(
        f"/api/orgs/{ORG}",
        json={"title": "Renamed"},
        headers=world.keeper.auth(expired),
    )
    assert "expired" in assert_error(refused, 401, "unauthorized")


def test_an_org_admin_cannot_mint_a_superadmin_token(world: World) -> None:
    for caller in ("admin", "superadmin"):
        response = world.keeper.client.post(
            f"/api/orgs/{ORG}/tokens",
            json={"role": "superadmin"},
            headers=world.headers(caller),
        )
        assert_error(response, 403, "forbidden")


def test_an_org_admin_can_mint_tokens_only_for_its_own_org(world: World) -> None:
    minted = world.keeper.client.post(
        f"/api/orgs/{ORG}/tokens",
        json={"role": "uploader"},
        headers=world.headers("admin"),
    )
    uploader = ok(minted, 201)["token"]
    build = register_build(world.keeper, "feature", token=uploader)
    assert build["status"] == "pending"

    foreign = world.keeper.client.post(
        f"/api/orgs/{OTHER_ORG}/tokens",
        json={"role": "admin"},
        headers=world.headers("admin"),
    )
    assert_error(foreign, 403, "forbidden")


def test_builds_record_which_token_uploaded_them(world: World) -> None:
    build = register_build(world.keeper, "feature", token=world.tokens["uploader"])
    assert build["uploader"] == f"uploader of {ORG}"


# -- every read route is public -----------------------------------------------

READ_ROUTES = [
    "/api",
    "/api/orgs",
    "/api/orgs/{org}",
    "/api/orgs/{org}/templates",
    "/api/orgs/{org}/templates/{name}",
    "/api/orgs/{org}/products",
    "/api/orgs/{org}/products/{product}",
    "/api/orgs/{org}/products/{product}/editions",
    "/api/orgs/{org}/products/{product}/editions/{edition}",
    "/api/orgs/{org}/products/{product}/editions/{edition}/history",
    "/api/orgs/{org}/products/{product}/builds",
    "/api/orgs/{org}/products/{product}/builds/{build}",
]


#: Reads that need a token: what only an org's admins may see (tokens, edges),
#: publishing's jobs (readers), an agent's configuration (edge tokens). The
#: authorization matrix checks who gets each.
ADMIN_READS = [
    "/api/orgs/{org}/tokens",
    "/api/orgs/{org}/jobs",
    "/api/orgs/{org}/jobs/{job_id}",
    "/api/orgs/{org}/edges",
    "/api/orgs/{org}/edges/{edge_id}/config",
]


def test_the_read_table_covers_every_read_route_of_the_app(keeper: Keeper) -> None:
    reads = {e for e in openapi_endpoints(keeper) if e.startswith("GET ")}
    assert reads == {f"GET {path}" for path in READ_ROUTES + ADMIN_READS}


@pytest.mark.parametrize("path", READ_ROUTES)
def test_read_route_needs_no_token(world: World, path: str) -> None:
    url = path.format(
        org=ORG,
        product=PRODUCT,
        edition="__main",
        build=world.build_id,
        name="editions.html",
    )
    body = ok(world.keeper.client.get(url))
    assert body, f"{url} should show something of the world"


def test_anonymous_reads_see_what_the_superadmin_sees(world: World) -> None:
    anonymous = world.keeper.client.get(f"{DOCS}/editions/__main").json()
    admin = world.keeper.client.get(
        f"{DOCS}/editions/__main", headers=world.keeper.auth()
    ).json()
    assert anonymous == admin
    assert anonymous["build_id"] == world.build_id


def test_only_a_superadmin_moves_an_orgs_storage(keeper: Keeper) -> None:
    """An org admin who could set storage_url could write into another org."""
    keeper.client.post(
        "/api/orgs", headers=keeper.auth(), json={"slug": "mine", "title": "Mine"}
    )
    r = keeper.client.post(
        "/api/orgs/mine/tokens", headers=keeper.auth(), json={"role": "admin"}
    )
    admin = r.json()["token"]
    r = keeper.client.patch(
        "/api/orgs/mine",
        headers=keeper.auth(admin),
        json={"storage_url": "file:///elsewhere/other-org"},
    )
    assert r.status_code == 403
    assert keeper.client.get("/api/orgs/mine").json()["storage_url"] is None
    r = keeper.client.patch(
        "/api/orgs/mine", headers=keeper.auth(admin), json={"title": "Still mine"}
    )
    assert r.status_code == 200
    r = keeper.client.patch(
        "/api/orgs/mine", headers=keeper.auth(), json={"storage_url": None}
    )
    assert r.status_code == 200
