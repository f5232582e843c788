"""Callers are admitted, and bodies bounded, before any body is read.

The hostile requests here are what probing keeper from outside found: an
anonymous 100 MB manifest parsed before its token was checked, free-form
fields that every anonymous listing then echoed, integers beyond 64 bits,
and JSON that parsers disagree on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from keeper.domain import limits
from keeper.domain.json_values import compact_size
from tests.api.test_permissions import (
    DOCS,
    ORG,
    PRODUCT,
    assert_error,
    create_org,
    create_product,
    create_token,
    manifest,
    ok,
    site,
)
from tests.conftest import Keeper

BUILDS = f"{DOCS}/builds"
SHA = "0" * 64


@pytest.fixture
def acme(keeper: Keeper) -> Keeper:
    create_org(keeper, ORG)
    create_product(keeper, ORG, PRODUCT)
    return keeper


def build_body(**extra: Any) -> dict[str, Any]:
    return {"git_ref": "main", "manifest": manifest(site("main")), **extra}


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked): only counting it as it
    arrives can stop it."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


# -- the order: size, then who, then what -----------------------------------------


def test_a_declared_oversized_body_is_refused_from_its_headers(acme: Keeper) -> None:
    body = b"[" + b" " * limits.DEFAULT_BODY_BYTES + b"]"
    response = acme.client.post(
        "/api/orgs", content=body, headers={"Content-Type": "application/json"}
    )
    msg = assert_error(response, 413, "too_large")
    assert str(limits.DEFAULT_BODY_BYTES) in msg


def test_an_oversized_body_without_a_length_is_stopped_as_it_streams(
    acme: Keeper,
) -> None:
    response = acme.client.post(
        "/api/orgs",
        content=chunks(limits.DEFAULT_BODY_BYTES + 1),
        headers={**acme.auth(), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "too_large")


def test_the_manifest_route_takes_larger_bodies_than_the_rest(acme: Keeper) -> None:
    # 2 MiB of whitespace around a valid body: over the default limit, well
    # within the registration's.
    padded = json.dumps(build_body()).encode() + b" " * (2 * limits.MIB)
    response = acme.client.post(
        BUILDS,
        content=padded,
        headers={**acme.auth(), "Content-Type": "application/json"},
    )
    assert ok(response, 201)["status"] == "pending"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/api/orgs"),
        ("PATCH", f"/api/orgs/{ORG}"),
        ("POST", BUILDS),
        ("POST", f"{DOCS}/editions"),
        ("PUT", f"/api/orgs/{ORG}/templates/base.html"),
    ],
)
@pytest.mark.parametrize("body", [b"{not json", b'{"a": 1, "a": 2}', b"[" * 100_000])
def test_anonymous_callers_are_refused_before_the_body_is_parsed(
    acme: Keeper, method: str, url: str, body: bytes
) -> None:
    response = acme.client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 401, "unauthorized")


def test_a_token_of_another_org_is_refused_before_the_body_is_parsed(
    acme: Keeper,
) -> None:
    create_org(acme, "other")
    stranger = create_token(acme, "other", "admin")
    response = acme.client.post(
        BUILDS, content=b"{not json", headers=acme.auth(stranger)
    )
    assert_error(response, 403, "forbidden")


def test_a_reader_is_refused_before_the_body_is_parsed(acme: Keeper) -> None:
    reader = create_token(acme, ORG, "reader")
    response = acme.client.post(BUILDS, content=b"{not json", headers=acme.auth(reader))
    assert_error(response, 403, "forbidden")


# -- strict JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"git_ref": "main", "git_ref": "evil", "manifest": []}', "'git_ref'"),
        (b'{"git_ref": "main", "manifest": [], "ci": {"n": NaN}}', "NaN"),
        (b'{"git_ref": "main", "manifest": [], "ci": {"n": -Infinity}}', "Infinity"),
        (b'{"git_ref": "main", "manifest": [], "ci": ' + b"[" * 5000, "nested"),
        (b'{"git_ref": "m\xff", "manifest": []}', "UTF-8"),
        (b"", None),
    ],
)
def test_json_that_parsers_disagree_on_is_refused(
    acme: Keeper, body: bytes, named: str | None
) -> None:
    response = acme.client.post(
        BUILDS,
        content=body,
        headers={**acme.auth(), "Content-Type": "application/json"},
    )
    msg = assert_error(response, 422, None)
    if named is not None:
        assert named in msg


def test_nesting_is_bounded_even_within_the_body_limit(acme: Keeper) -> None:
    deep: Any = {}
    for _ in range(40):
        deep = {"x": deep}
    response = acme.client.post(BUILDS, json=build_body(ci=deep), headers=acme.auth())
    assert "nested" in assert_error(response, 422, "json_invalid")


# -- free-form fields and numbers --------------------------------------------------


def test_ci_annotations_are_bounded_and_never_echoed_oversized(acme: Keeper) -> None:
    big = {"notes": "x" * limits.MAX_CI_BYTES}
    response = acme.client.post(BUILDS, json=build_body(ci=big), headers=acme.auth())
    msg = assert_error(response, 422, "value_error")
    assert str(limits.MAX_CI_BYTES) in msg
    listed = ok(acme.client.get(BUILDS))
    assert listed == []


def test_ci_annotations_within_the_limit_are_kept(acme: Keeper) -> None:
    ci = {"notes": "x" * (limits.MAX_CI_BYTES - 100)}
    assert compact_size(ci) <= limits.MAX_CI_BYTES
    created = ok(
        acme.client.post(BUILDS, json=build_body(ci=ci), headers=acme.auth()), 201
    )
    assert created["ci"] == ci


def test_deep_ci_annotations_are_refused(acme: Keeper) -> None:
    deep: Any = 1
    for _ in range(limits.MAX_JSON_DEPTH + 1):
        deep = [deep]
    response = acme.client.post(
        BUILDS, json=build_body(ci={"d": deep}), headers=acme.auth()
    )
    assert "deeper" in assert_error(response, 422, "value_error")


def test_git_refs_are_bounded(acme: Keeper) -> None:
    refs = [f"r{i}" for i in range(limits.MAX_GIT_REFS + 1)]
    response = acme.client.post(
        BUILDS, json=build_body(git_refs=refs), headers=acme.auth()
    )
    assert_error(response, 422, "too_long")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        (
            "POST",
            f"{DOCS}/editions",
            {
                "slug": "x",
                "tracking_params": {"ref": "x" * limits.MAX_TRACKING_PARAMS_BYTES},
            },
        ),
        (
            "PATCH",
            f"{DOCS}/editions/__main",
            {"tracking_params": {"ref": "x" * limits.MAX_TRACKING_PARAMS_BYTES}},
        ),
        (
            "PATCH",
            f"/api/orgs/{ORG}",
            {"cdn_settings": {"k": "x" * limits.MAX_SETTINGS_BYTES}},
        ),
    ],
)
def test_settings_are_bounded(
    acme: Keeper, method: str, url: str, body: dict[str, Any]
) -> None:
    response = acme.client.request(method, url, json=body, headers=acme.auth())
    assert "limit is" in assert_error(response, 422, "value_error")


@pytest.mark.parametrize(
    "query",
    [
        f"after={limits.MAX_ID + 1}",
        f"after={2**64}",
        f"limit={2**64}",
        "after=-1",
        f"after={10**100}",
    ],
)
def test_cursors_beyond_what_the_database_holds_are_refused(
    acme: Keeper, query: str
) -> None:
    assert_error(acme.client.get(f"/api/orgs?{query}"), 422, None)


@pytest.mark.parametrize(
    "url", ["/api/orgs", f"/api/orgs/{ORG}/products", f"{DOCS}/editions", BUILDS]
)
def test_the_largest_cursor_reaches_the_database_safely(acme: Keeper, url: str) -> None:
    assert ok(acme.client.get(f"{url}?after={limits.MAX_ID}")) is not None


def test_an_unknown_status_filter_is_refused(acme: Keeper) -> None:
    assert_error(acme.client.get(f"{BUILDS}?status=evil"), 422, "enum")


def test_validation_errors_are_capped(acme: Keeper) -> None:
    bad = [{"path": f"p{i}.html", "size": -1, "sha256": "no"} for i in range(500)]
    response = acme.client.post(
        BUILDS, json={"git_ref": "main", "manifest": bad}, headers=acme.auth()
    )
    assert_error(response, 422, None)
    detail = response.json()["detail"]
    assert len(detail) == limits.MAX_REPORTED_ERRORS + 1
    assert all("loc" in item for item in detail[:-1])
    assert detail[-1]["type"] == "too_many_errors"
    assert "980 more" in detail[-1]["msg"]


# -- what the schema promises -------------------------------------------------------


def test_every_operation_names_its_access_rule_and_body_limit(keeper: Keeper) -> None:
    schema = ok(keeper.client.get("/openapi.json"))
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation["x-keeper-access"]["rule"], where
            assert operation["x-keeper-max-body"] > 0, where
            public = operation["x-keeper-access"]["rule"] == "public"
            assert ("403" in operation["responses"]) is not public, where
            for status in ("401", "404", "413", "422"):
                assert status in operation["responses"], where


def test_the_error_schema_has_loc_only_as_an_option(keeper: Keeper) -> None:
    schema = ok(keeper.client.get("/openapi.json"))
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    item = components["ErrorItem"]
    assert set(item["required"]) == {"type", "msg"}


def test_patch_fields_are_nullable_in_the_schema_only_when_null_is_taken(
    acme: Keeper,
) -> None:
    keeper = acme
    schema = ok(keeper.client.get("/openapi.json"))
    components = schema["components"]["schemas"]
    checked = 0
    for name in ("OrgUpdate", "ProductUpdate", "EditionUpdate"):
        for field, prop in components[name]["properties"].items():
            documented = {"type": "null"} in prop.get("anyOf", [])
            body = {field: None}
            url = {
                "OrgUpdate": f"/api/orgs/{ORG}",
                "ProductUpdate": DOCS,
                "EditionUpdate": f"{DOCS}/editions/__main",
            }[name]
            checked += 1
            response = keeper.client.patch(url, json=body, headers=keeper.auth())
            if documented:
                assert response.status_code != 422, (name, field, response.text)
            else:
                assert response.status_code == 422, (name, field, response.text)
    assert checked > 10
