"""Every error the API gives has one shape: ``{"detail": [{"type", "msg"}]}``."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.test_permissions import (
    DOCS,
    ORG,
    PRODUCT,
    PRODUCTS,
    Json,
    assert_error,
    create_org,
    create_product,
    create_token,
    manifest,
    ok,
    publish_build,
    site,
)
from tests.conftest import Keeper

SHA = "0" * 64


@pytest.fixture
def docs(keeper: Keeper) -> Keeper:
    """Org ``acme`` with the product ``docs`` and a complete build."""
    create_org(keeper, ORG)
    create_product(keeper, ORG, PRODUCT)
    publish_build(keeper, "main")
    return keeper


# -- 404 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/api/orgs/nope", "organization 'nope'"),
        ("/api/orgs/nope/products", "organization 'nope'"),
        ("/api/orgs/nope/products/docs", "organization 'nope'"),
        (f"{PRODUCTS}/nope", "product 'nope'"),
        (f"{PRODUCTS}/nope/editions", "product 'nope'"),
        (f"{PRODUCTS}/nope/builds", "product 'nope'"),
        (f"{DOCS}/editions/nope", "edition 'nope'"),
        (f"{DOCS}/editions/nope/history", "edition 'nope'"),
        (f"{DOCS}/builds/nope", "build 'nope'"),
    ],
)
def test_unknown_resource_is_not_found(docs: Keeper, url: str, named: str) -> None:
    assert named in assert_error(docs.client.get(url), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("PATCH", "/api/orgs/nope", {"title": "X"}),
        ("DELETE", "/api/orgs/nope", None),
        ("POST", "/api/orgs/nope/products", {"slug": "x", "title": "X"}),
        ("POST", "/api/orgs/nope/tokens", {"role": "reader"}),
        ("PATCH", f"{PRODUCTS}/nope", {"title": "X"}),
        ("DELETE", f"{PRODUCTS}/nope", None),
        ("POST", f"{PRODUCTS}/nope/editions", {"slug": "x"}),
        ("PATCH", f"{DOCS}/editions/nope", {"title": "X"}),
        ("DELETE", f"{DOCS}/editions/nope", None),
        ("POST", f"{DOCS}/editions/nope/rollback", {"build": "x"}),
        ("POST", f"{PRODUCTS}/nope/builds", {"git_ref": "main", "manifest": []}),
        ("PATCH", f"{DOCS}/builds/nope", {"status": "uploaded"}),
        ("DELETE", f"{DOCS}/builds/nope", None),
    ],
)
def test_writing_to_an_unknown_resource_is_not_found(
    docs: Keeper, method: str, url: str, body: Json
) -> None:
    response = docs.client.request(method, url, json=body, headers=docs.auth())
    assert "'nope'" in assert_error(response, 404, "not_found")


def test_unknown_route_is_not_found(keeper: Keeper) -> None:
    assert_error(keeper.client.get("/api/no-such-thing"), 404, "not_found")


# -- 422 -------------------------------------------------------------------------

BUILD = {"git_ref": "main", "manifest": manifest(site("main"))}


def with_file(**fields: object) -> Json:
    return {
        "git_ref": "main",
        "manifest": [{"path": "index.html", "size": 1, "sha256": SHA, **fields}],
    }


@pytest.mark.parametrize(
    ("method", "url", "body", "error_type", "loc"),
    [
        ("POST", "/api/orgs", {"slug": "x"}, "missing", ["body", "title"]),
        (
            "POST",
            "/api/orgs",
            {"slug": "x", "title": "X", "colour": "red"},
            "extra_forbidden",
            ["body", "colour"],
        ),
        (
            "POST",
            "/api/orgs",
            {"slug": "x", "title": "X", "url_layout": "flat"},
            "literal_error",
            ["body", "url_layout"],
        ),
        ("POST", "/api/orgs", [], "model_attributes_type", ["body"]),
        (
            "PATCH",
            f"/api/orgs/{ORG}",
            {"slug": "y"},
            "extra_forbidden",
            ["body", "slug"],
        ),
        (
            "POST",
            PRODUCTS,
            {"slug": "x", "title": ""},
            "string_too_short",
            ["body", "title"],
        ),
        ("PATCH", DOCS, {"owner": "me"}, "extra_forbidden", ["body", "owner"]),
        (
            "POST",
            f"{DOCS}/editions",
            {"slug": "x", "kind": "weird"},
            "enum",
            ["body", "kind"],
        ),
        (
            "PATCH",
            f"{DOCS}/editions/__main",
            {"hidden": "sometimes"},
            "bool_parsing",
            ["body", "hidden"],
        ),
        (
            "POST",
            f"{DOCS}/editions/__main/rollback",
            {},
            "missing",
            ["body", "build"],
        ),
        (
            "POST",
            f"{DOCS}/editions/__main/rollback",
            {"build": "x", "reason": "oops"},
            "extra_forbidden",
            ["body", "reason"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            {"git_ref": "main"},
            "missing",
            ["body", "manifest"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            {**BUILD, "git_ref": "has space"},
            "string_pattern_mismatch",
            ["body", "git_ref"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            {**BUILD, "branch": "main"},
            "extra_forbidden",
            ["body", "branch"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            with_file(path="../escape.html"),
            "value_error",
            ["body", "manifest", 0, "path"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            with_file(sha256="not-a-digest"),
            "string_pattern_mismatch",
            ["body", "manifest", 0, "sha256"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            with_file(size=-1),
            "greater_than_equal",
            ["body", "manifest", 0, "size"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            with_file(mode="0644"),
            "extra_forbidden",
            ["body", "manifest", 0, "mode"],
        ),
        (
            "POST",
            f"{DOCS}/builds",
            {"git_ref": "main", "manifest": manifest(site("a")) * 2},
            "value_error",
            ["body", "manifest"],
        ),
        (
            "PATCH",
            f"{DOCS}/builds/whatever",
            {"status": "complete"},
            "literal_error",
            ["body", "status"],
        ),
        (
            "POST",
            f"/api/orgs/{ORG}/tokens",
            {"role": "owner"},
            "enum",
            ["body", "role"],
        ),
    ],
)
def test_bad_body_is_unprocessable(
    docs: Keeper,
    method: str,
    url: str,
    body: Json,
    error_type: str,
    loc: list[object],
) -> None:
    response = docs.client.request(method, url, json=body, headers=docs.auth())
    assert_error(response, 422, error_type)
    assert response.json()["detail"][0]["loc"] == loc


def test_malformed_json_is_unprocessable(docs: Keeper) -> None:
    response = docs.client.post(
        "/api/orgs",
        content=b'{"slug": "x",',
        headers={**docs.auth(), "Content-Type": "application/json"},
    )
    assert_error(response, 422, "json_invalid")


def test_every_problem_of_a_body_is_reported(keeper: Keeper) -> None:
    response = keeper.client.post(
        "/api/orgs",
        json={"slug": "Not A Slug", "extra": 1},
        headers=keeper.auth(),
    )
    assert_error(response, 422, "string_pattern_mismatch")
    problems = {(d["type"], tuple(d["loc"])) for d in response.json()["detail"]}
    assert problems == {
        ("string_pattern_mismatch", ("body", "slug")),
        ("missing", ("body", "title")),
        ("extra_forbidden", ("body", "extra")),
    }


def test_a_bad_body_changes_nothing(docs: Keeper) -> None:
    before = docs.client.get(f"/api/orgs/{ORG}").json()
    response = docs.client.patch(
        f"/api/orgs/{ORG}",
        json={"title": "Renamed", "colour": "red"},
        headers=docs.auth(),
    )
    assert_error(response, 422, "extra_forbidden")
    assert docs.client.get(f"/api/orgs/{ORG}").json() == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/orgs/{ORG}", "title"),
        (f"/api/orgs/{ORG}", "base_domain"),
        (f"/api/orgs/{ORG}", "url_layout"),
        (f"/api/orgs/{ORG}", "cdn_kind"),
        (f"/api/orgs/{ORG}", "cdn_settings"),
        (DOCS, "title"),
        (f"{DOCS}/editions/__main", "title"),
        (f"{DOCS}/editions/__main", "kind"),
        (f"{DOCS}/editions/__main", "hidden"),
        (f"{DOCS}/editions/__main", "tracking_mode"),
    ],
)
def test_null_for_a_required_field_is_unprocessable(
    docs: Keeper, url: str, field: str
) -> None:
    before = docs.client.get(url).json()
    response = docs.client.patch(url, json={field: None}, headers=docs.auth())
    assert_error(response, 422, None)
    assert docs.client.get(url).json() == before


@pytest.mark.parametrize(
    ("url", "field"),
    [(f"/api/orgs/{ORG}", "storage_url"), (DOCS, "source_repo_url")],
)
def test_null_clears_an_optional_field(
    docs: Keeper, url: str, field: str, tmp_path: Path
) -> None:
    # A real place: keeper writes the org's generated pages there at once.
    value = f"file://{tmp_path}/store" if field == "storage_url" else "x"
    ok(docs.client.patch(url, json={field: value}, headers=docs.auth()))
    cleared = ok(docs.client.patch(url, json={field: None}, headers=docs.auth()))
    assert cleared[field] is None
    assert docs.client.get(url).json()[field] is None


def test_a_null_cdn_settings_does_not_break_reading_orgs(docs: Keeper) -> None:
    """The null must be refused before it is stored: stored, it made every
    listing of orgs answer 500, for everyone."""
    client = TestClient(docs.client.app, raise_server_exceptions=False)
    admin = create_token(docs, ORG, "admin")
    client.patch(
        f"/api/orgs/{ORG}", json={"cdn_settings": None}, headers=docs.auth(admin)
    )
    assert client.get("/api/orgs").status_code == 200
    assert client.get(f"/api/orgs/{ORG}").status_code == 200


def test_token_expiry_without_a_timezone_is_unprocessable(docs: Keeper) -> None:
    response = docs.client.post(
        f"/api/orgs/{ORG}/tokens",
        json={"role": "reader", "expires": "2030-01-01T00:00:00"},
        headers=docs.auth(),
    )
    assert_error(response, 422, None)


# -- 405 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", "/api/orgs"),
        ("DELETE", "/api/orgs"),
        ("PUT", f"/api/orgs/{ORG}"),
        ("POST", f"{DOCS}/editions/__main"),
        ("GET", f"{DOCS}/editions/__main/rollback"),
        ("PUT", f"/api/orgs/{ORG}/tokens/1"),
    ],
)
def test_wrong_method_is_not_allowed(docs: Keeper, method: str, url: str) -> None:
    response = docs.client.request(method, url, headers=docs.auth())
    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("GET", f"/api/orgs/{ORG}/tokens/1", {"DELETE"}),
        ("PUT", f"{DOCS}/editions/__main/rollback", {"POST"}),
        ("PUT", "/api/orgs", {"GET", "POST"}),
        ("PUT", f"/api/orgs/{ORG}", {"GET", "PATCH", "DELETE"}),
        ("POST", f"{DOCS}/builds/b1", {"GET", "PATCH", "DELETE"}),
    ],
)
def test_wrong_method_names_the_allowed_ones(
    keeper: Keeper, method: str, url: str, allowed: set[str]
) -> None:
    response = keeper.client.request(method, url)
    assert_error(response, 405, "method_not_allowed")
    named = {m.strip() for m in response.headers["Allow"].split(",")}
    assert named == allowed, named


# -- the schema and its docs -------------------------------------------------------


def test_openapi_lists_every_route(keeper: Keeper) -> None:
    schema = ok(keeper.client.get("/openapi.json"))
    assert schema["info"]["title"] == "keeper"
    operations = {
        (path, method) for path, item in schema["paths"].items() for method in item
    }
    org = "/api/orgs/{org}"
    product = f"{org}/products/{{product}}"
    edition = f"{product}/editions/{{edition}}"
    build = f"{product}/builds/{{build}}"
    assert operations == {
        ("/api", "get"),
        ("/api/orgs", "get"),
        ("/api/orgs", "post"),
        (org, "get"),
        (f"{org}/edges", "get"),
        (f"{org}/edges", "post"),
        (f"{org}/edges/{{edge_id}}", "delete"),
        (f"{org}/edges/{{edge_id}}/config", "get"),
        (f"{org}/edges/{{edge_id}}/status", "post"),
        (f"{org}/jobs", "get"),
        (f"{org}/jobs/{{job_id}}", "get"),
        (f"{org}/jobs/{{job_id}}/retry", "post"),
        (f"{org}/templates", "get"),
        (f"{org}/templates/{{name}}", "get"),
        (f"{org}/templates/{{name}}", "put"),
        (f"{org}/templates/{{name}}", "delete"),
        (org, "patch"),
        (org, "delete"),
        (f"{org}/tokens", "get"),
        (f"{org}/tokens", "post"),
        (f"{org}/tokens/{{token_id}}", "delete"),
        (f"{org}/products", "get"),
        (f"{org}/products", "post"),
        (product, "get"),
        (product, "patch"),
        (product, "delete"),
        (f"{product}/editions", "get"),
        (f"{product}/editions", "post"),
        (edition, "get"),
        (edition, "patch"),
        (edition, "delete"),
        (f"{edition}/history", "get"),
        (f"{edition}/rollback", "post"),
        (f"{product}/builds", "get"),
        (f"{product}/builds", "post"),
        (build, "get"),
        (build, "patch"),
        (build, "delete"),
        (f"{build}/uploads", "post"),
        (f"{build}/sent", "post"),
        ("/api/uploads/{token}", "put"),
        ("/api/uploads/form/{token}", "post"),
        # LTD Keeper 1.x, for released ltd-conveyor clients (tests/compat)
        ("/", "get"),
        ("/token", "get"),
        ("/products/", "get"),
        ("/products/{product}", "get"),
        ("/products/{product}/builds/", "post"),
        ("/builds/{build}", "get"),
        ("/builds/{build}", "patch"),
    }


def test_interactive_docs_answer(keeper: Keeper) -> None:
    response = keeper.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
