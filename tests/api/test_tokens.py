"""An org's tokens: listed without their secrets, revoked at once on every
route that takes them, and made only with an expiry that lies ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keeper.services.auth import hash_token
from tests.api.test_permissions import (
    CALLERS,
    DOCS,
    ORG,
    World,
    assert_error,
    expire_token,
    make_world,
    ok,
)
from tests.compat import ltd1
from tests.conftest import Keeper
from tests.publishing import Files

TOKENS = f"/api/orgs/{ORG}/tokens"
FIELDS = {"id", "name", "role", "hint", "created", "last_used", "expires"}


@pytest.fixture
def world(keeper: Keeper) -> World:
    return make_world(keeper)


def make(keeper: Keeper, token: str | None = None, **body: Any) -> Any:
    headers = keeper.auth(token) if token else keeper.auth()
    response = keeper.client.post(
        TOKENS, json={"role": "uploader", **body}, headers=headers
    )
    return ok(response, 201)


def listed(keeper: Keeper, token: str | None = None) -> list[Any]:
    headers = keeper.auth(token) if token else keeper.auth()
    body: list[Any] = ok(keeper.client.get(TOKENS, headers=headers))
    return body


def revoke(keeper: Keeper, token_id: int, token: str | None = None) -> Any:
    headers = keeper.auth(token) if token else keeper.auth()
    return keeper.client.delete(f"{TOKENS}/{token_id}", headers=headers)


def can_write(keeper: Keeper, token: str) -> int:
    """The status of a write the token's role allows (an uploader's)."""
    response = keeper.client.post(
        f"{DOCS}/builds",
        json={"git_ref": "t", "manifest": []},
        headers=keeper.auth(token),
    )
    return response.status_code


# -- listing ---------------------------------------------------------------------


def test_the_list_shows_each_token_but_never_its_secret(world: World) -> None:
    keeper = world.keeper
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = make(keeper, name="github-ci", expires=expires.isoformat())
    secret = created.pop("token")
    assert set(created) == FIELDS
    assert created["hint"] == secret[:8] and created["hint"].startswith("ltd_")

    tokens = listed(keeper)
    assert created in tokens
    for token in tokens:
        assert set(token) == FIELDS
    shown = repr(tokens)
    for value in (secret, hash_token(secret), secret[8:]):
        assert value not in shown
    # Every token of the org, and only those.
    roles = sorted(t["role"] for t in tokens)
    assert roles == ["admin", "reader", "uploader", "uploader"]
    assert datetime.fromisoformat(created["expires"]) == expires
    assert created["last_used"] is None


def test_the_list_tells_when_a_token_was_last_used(world: World) -> None:
    keeper = world.keeper
    created = make(keeper)
    assert can_write(keeper, created["token"]) == 201
    (row,) = [t for t in listed(keeper) if t["id"] == created["id"]]
    used = datetime.fromisoformat(row["last_used"])
    assert datetime.fromisoformat(row["created"]) <= used <= datetime.now(UTC)


def test_the_list_comes_in_pages(world: World) -> None:
    response = world.keeper.client.get(f"{TOKENS}?limit=2", headers=world.keeper.auth())
    first = ok(response)
    assert len(first) == 2
    rest = ok(
        world.keeper.client.get(
            response.links["next"]["url"], headers=world.keeper.auth()
        )
    )
    ids = [t["id"] for t in first + rest]
    assert ids == sorted(ids) and len(ids) == len(listed(world.keeper))


@pytest.mark.parametrize(
    ("caller", "status"),
    list(zip(CALLERS, (401, 401, 403, 403, 200, 403, 200), strict=True)),
)
def test_only_the_orgs_admins_see_its_tokens(
    world: World, caller: str, status: int
) -> None:
    response = world.keeper.client.get(TOKENS, headers=world.headers(caller))
    if status == 200:
        assert {t["role"] for t in ok(response)} == {"reader", "uploader", "admin"}
    else:
        assert_error(response, status, None)


# -- revoking ---------------------------------------------------------------------


def test_a_revoked_token_is_refused_at_once(world: World) -> None:
    keeper = world.keeper
    created = make(keeper, name="leaked")
    assert can_write(keeper, created["token"]) == 201

    assert revoke(keeper, created["id"], world.tokens["admin"]).status_code == 204
    refused = keeper.client.post(
        f"{DOCS}/builds",
        json={"git_ref": "t", "manifest": []},
        headers=keeper.auth(created["token"]),
    )
    assert_error(refused, 401, "unauthorized")
    assert created["id"] not in [t["id"] for t in listed(keeper)]
    # Gone is gone.
    assert_error(revoke(keeper, created["id"]), 404, "not_found")


@pytest.mark.parametrize("ended", ["revoked", "expired"])
def test_an_ended_token_is_refused_by_reads_too(world: World, ended: str) -> None:
    """Reads need no token, but one that is sent is checked: a CI job with a
    revoked token learns it on its first call, whatever that is."""
    keeper = world.keeper
    created = make(keeper)
    for path in ("/api", "/api/orgs", DOCS, f"{DOCS}/builds"):
        ok(keeper.client.get(path, headers=keeper.auth(created["token"])))
    if ended == "revoked":
        assert revoke(keeper, created["id"]).status_code == 204
    else:
        expire_token(keeper, created["id"])
    for path in ("/api", "/api/orgs", DOCS, f"{DOCS}/builds"):
        refused = keeper.client.get(path, headers=keeper.auth(created["token"]))
        reason = {"revoked": "not valid", "expired": "expired"}[ended]
        assert reason in assert_error(refused, 401, "unauthorized")
        ok(keeper.client.get(path))  # anonymous reads go on


def test_an_admin_may_revoke_its_own_token(world: World) -> None:
    admin = world.tokens["admin"]
    (row,) = [t for t in listed(world.keeper) if t["role"] == "admin"]
    assert revoke(world.keeper, row["id"], admin).status_code == 204
    assert_error(
        world.keeper.client.get(TOKENS, headers=world.keeper.auth(admin)),
        401,
        "unauthorized",
    )


def test_another_orgs_token_cannot_be_revoked_from_here(world: World) -> None:
    other = world.keeper.client.get(
        "/api/orgs/other/tokens", headers=world.keeper.auth()
    )
    (foreign,) = ok(other)
    # Through this org's path it is as absent as a token that never was …
    assert_error(revoke(world.keeper, foreign["id"]), 404, "not_found")
    assert_error(revoke(world.keeper, 10**9), 404, "not_found")
    # … and through its own org's path this org's admin is refused.
    refused = world.keeper.client.delete(
        f"/api/orgs/other/tokens/{foreign['id']}",
        headers=world.headers("admin"),
    )
    assert_error(refused, 403, "forbidden")
    # It still works.
    response = world.keeper.client.patch(
        "/api/orgs/other",
        json={"title": "Still here"},
        headers=world.headers("admin of another org"),
    )
    assert ok(response)["title"] == "Still here"


@pytest.mark.parametrize("token_id", ["0", "-1", "x", str(2**63)])
def test_a_token_id_that_cannot_be_is_unprocessable(
    world: World, token_id: str
) -> None:
    response = world.keeper.client.delete(
        f"{TOKENS}/{token_id}", headers=world.keeper.auth()
    )
    assert_error(response, 422, None)


# -- expiry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires", "reason"),
    [
        ("2000-01-01T00:00:00Z", "future"),
        ("now", "future"),
        ("2100-01-01T00:00:00Z", "at most"),
        ("9999-12-31T23:00:00-05:00", "at most"),
    ],
)
def test_a_token_cannot_be_made_expired_or_for_ever_after(
    world: World, expires: str, reason: str
) -> None:
    if expires == "now":
        expires = datetime.now(UTC).isoformat()
    before = listed(world.keeper)
    response = world.keeper.client.post(
        TOKENS,
        json={"role": "uploader", "expires": expires},
        headers=world.keeper.auth(),
    )
    assert reason in assert_error(response, 422, "invalid")
    assert listed(world.keeper) == before


# -- the LTD Keeper 1.x routes ------------------------------------------------------

SITE: Files = {"index.html": b"<h1>docs</h1>"}


@pytest.fixture
def compat_world(world: World) -> World:
    """The LTD Keeper 1.x routes act on one org: leave only ``acme``."""
    keeper = world.keeper
    other = ok(keeper.client.get("/api/orgs/other/tokens", headers=keeper.auth()))
    for token in other:
        assert (
            keeper.client.delete(
                f"/api/orgs/other/tokens/{token['id']}", headers=keeper.auth()
            ).status_code
            == 204
        )
    ok(keeper.client.delete("/api/orgs/other", headers=keeper.auth()), 204)
    return world


@pytest.mark.parametrize("ended", ["revoked", "expired"])
def test_an_ended_token_is_refused_by_the_ltd_keeper_1x_routes(
    compat_world: World, ended: str
) -> None:
    keeper = compat_world.keeper
    client = keeper.client
    created = make(keeper, name="travis")
    secret = created["token"]
    session = ltd1.get_token(client, secret)
    # Both work while the token does: a build registered with each.
    build = ltd1.register(client, secret, "docs", ["main"], SITE)
    ltd1.register(client, session, "docs", ["main"], SITE)

    if ended == "revoked":
        assert revoke(keeper, created["id"]).status_code == 204
    else:
        expire_token(keeper, created["id"])

    for credentials in (ltd1.basic("ci", secret), ltd1.basic(secret)):
        assert_error(client.get("/token", headers=credentials), 401, None)
    for who in (secret, session):
        refused = client.post(
            "/products/docs/builds/",
            headers=ltd1.basic(who),
            json={"git_refs": ["main"], "directories": ["/"]},
        )
        assert_error(refused, 401, None)
        confirm = client.patch(
            build["self_url"], headers=ltd1.basic(who), json={"uploaded": True}
        )
        assert_error(confirm, 401, None)


def test_builds_keep_the_name_of_the_revoked_token_that_uploaded_them(
    world: World,
) -> None:
    keeper = world.keeper
    created = make(keeper, name="old-ci")
    build = keeper.client.post(
        f"{DOCS}/builds",
        json={"git_ref": "t", "manifest": []},
        headers=keeper.auth(created["token"]),
    )
    build_id = ok(build, 201)["id"]
    assert revoke(keeper, created["id"]).status_code == 204
    assert ok(keeper.client.get(f"{DOCS}/builds/{build_id}"))["uploader"] == "old-ci"
