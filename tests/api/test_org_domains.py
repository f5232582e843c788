"""An org's base domain, URL layout and storage: checked when written, one
org's alone, and set only by a superadmin.

Keeper here believes it is reached at ``https://api.keeper.example``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from keeper.app import create_app
from keeper.db import Organization
from tests.api.test_permissions import assert_error, create_token, ok
from tests.conftest import Keeper, make_settings
from tests.settled import SettledClient

KEEPER_HOST = "api.keeper.example"


@pytest.fixture
def keeper(database_url: str, tmp_path: Path) -> Iterator[Keeper]:
    settings = make_settings(database_url, f"file://{tmp_path / 'storage'}", tmp_path)
    settings = settings.model_copy(update={"base_url": f"https://{KEEPER_HOST}"})
    with SettledClient(create_app(settings)) as client:
        yield Keeper(client, settings)


def post_org(keeper: Keeper, slug: str, **fields: Any) -> Any:
    return keeper.client.post(
        "/api/orgs",
        json={"slug": slug, "title": slug.title(), **fields},
        headers=keeper.auth(),
    )


def patch_org(
    keeper: Keeper, slug: str, token: str | None = None, **fields: Any
) -> Any:
    return keeper.client.patch(
        f"/api/orgs/{slug}",
        json=fields,
        headers=keeper.auth(token) if token else keeper.auth(),
    )


def org(keeper: Keeper, slug: str) -> Any:
    return ok(keeper.client.get(f"/api/orgs/{slug}"))


# -- what a base domain may be --------------------------------------------------


def test_a_base_domain_is_stored_as_hosts_are_compared(keeper: Keeper) -> None:
    created = ok(post_org(keeper, "lsst", base_domain="LSST.Docs.Test."), 201)
    assert created["base_domain"] == "lsst.docs.test"
    changed = ok(patch_org(keeper, "lsst", base_domain=" Pipelines.TEST "))
    assert changed["base_domain"] == "pipelines.test"


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("docs.test:8000", "site_port"),
        ("https://docs.test", "scheme"),
        ("10.0.0.7", "IP address"),
        ("bücher.test", "xn--"),
        ("docs..test", "not a host name"),
        ("*.docs.test", "wildcard"),
    ],
)
def test_a_base_domain_that_is_no_host_name_is_refused(
    keeper: Keeper, domain: str, reason: str
) -> None:
    msg = assert_error(post_org(keeper, "lsst", base_domain=domain), 422, None)
    assert reason in msg
    ok(post_org(keeper, "lsst", base_domain="lsst.test"), 201)
    msg = assert_error(patch_org(keeper, "lsst", base_domain=domain), 422, None)
    assert reason in msg
    assert org(keeper, "lsst")["base_domain"] == "lsst.test"


# -- one org's alone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("docs.test", "subdomain"), ("Docs.Test.", "subdomain")),
        (("docs.test", "path"), ("docs.test", "path")),
        (("docs.test", "subdomain"), ("docs.test", "path")),
        # The first org's product "lsst" would be the second org's host …
        (("docs.test", "subdomain"), ("lsst.docs.test", "path")),
        # … and the other way round.
        (("lsst.docs.test", "path"), ("docs.test", "subdomain")),
    ],
)
def test_an_org_cannot_take_requests_another_org_could_serve(
    keeper: Keeper, first: tuple[str, str], second: tuple[str, str]
) -> None:
    ok(post_org(keeper, "first", base_domain=first[0], url_layout=first[1]), 201)
    refused = post_org(keeper, "second", base_domain=second[0], url_layout=second[1])
    assert "'first'" in assert_error(refused, 409, "conflict")
    assert keeper.client.get("/api/orgs/second").status_code == 404

    # Nor may an existing org move there.
    ok(post_org(keeper, "second", base_domain="elsewhere.test"), 201)
    refused = patch_org(keeper, "second", base_domain=second[0], url_layout=second[1])
    assert_error(refused, 409, "conflict")
    assert org(keeper, "second")["base_domain"] == "elsewhere.test"
    assert org(keeper, "second")["url_layout"] == "subdomain"


def test_a_layout_change_is_checked_like_a_domain_change(keeper: Keeper) -> None:
    ok(post_org(keeper, "first", base_domain="docs.test"), 201)
    ok(post_org(keeper, "second", base_domain="lsst.docs.test"), 201)
    # Sites at x.lsst.docs.test are nobody else's; at lsst.docs.test/x/ they
    # would be where "first" serves a product "lsst".
    assert_error(patch_org(keeper, "second", url_layout="path"), 409, "conflict")
    assert org(keeper, "second")["url_layout"] == "subdomain"


def test_orgs_may_sit_side_by_side_and_share_no_domain(keeper: Keeper) -> None:
    ok(post_org(keeper, "a", base_domain="docs.test"), 201)
    ok(post_org(keeper, "b", base_domain="lsst.docs.test"), 201)  # x.lsst.docs.test
    ok(post_org(keeper, "c", base_domain="a.b.lsst.docs.test", url_layout="path"), 201)
    ok(post_org(keeper, "d", base_domain="docs.example"), 201)
    ok(post_org(keeper, "e"), 201)  # no sites at all
    ok(post_org(keeper, "f", base_domain=""), 201)
    # Moving to a domain nobody has, or keeping one's own, is fine.
    ok(patch_org(keeper, "d", base_domain="docs.example.org"))
    ok(patch_org(keeper, "a", base_domain="docs.test", title="Same domain"))


@pytest.mark.parametrize(
    ("domain", "layout"),
    [
        (KEEPER_HOST, "path"),  # its product "api" would be /api
        ("keeper.example", "subdomain"),  # its product "api" would be the API
    ],
)
def test_no_org_may_take_keepers_own_host(
    keeper: Keeper, domain: str, layout: str
) -> None:
    refused = post_org(keeper, "lsst", base_domain=domain, url_layout=layout)
    assert KEEPER_HOST in assert_error(refused, 422, "invalid")
    assert keeper.client.get("/api/orgs/lsst").status_code == 404


def test_sites_below_keepers_host_are_fine_until_they_would_take_it(
    keeper: Keeper,
) -> None:
    ok(post_org(keeper, "lsst", base_domain=KEEPER_HOST), 201)  # x.api.keeper…
    refused = patch_org(keeper, "lsst", url_layout="path")
    assert KEEPER_HOST in assert_error(refused, 422, "invalid")
    assert org(keeper, "lsst")["url_layout"] == "subdomain"


def test_the_quick_starts_domain_is_fine_beside_keeper_on_an_address(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, f"file://{tmp_path / 'storage'}", tmp_path)
    settings = settings.model_copy(update={"base_url": "http://127.0.0.1:8000"})
    with SettledClient(create_app(settings)) as client:
        keeper = Keeper(client, settings)
        ok(post_org(keeper, "demo", base_domain="localhost"), 201)


def test_keepers_own_host_reaches_the_api_even_if_an_old_row_claims_it(
    keeper: Keeper,
) -> None:
    """Orgs written before these checks may still cover keeper's host."""
    ok(post_org(keeper, "old"), 201)
    engine = keeper.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        row = session.get(Organization, 1)
        assert row is not None and row.slug == "old"
        row.base_domain, row.url_layout = KEEPER_HOST, "path"
        session.add(row)
        session.commit()
    for product in ("api", "docs"):
        ok(
            keeper.client.post(
                "/api/orgs/old/products",
                json={"slug": product, "title": product},
                headers=keeper.auth(),
            ),
            201,
        )
    host = {"Host": KEEPER_HOST}
    assert ok(keeper.client.get("/api", headers=host))["name"] == "keeper"
    assert ok(keeper.client.get("/api/orgs/old", headers=host))["slug"] == "old"
    docs = keeper.client.get("/docs", headers=host)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# -- only a superadmin ---------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"base_domain": "other.test"},
        {"base_domain": ""},
        {"url_layout": "path"},
        {"storage_url": "file:///srv/elsewhere"},
        {"storage_url": "ftp://not-even-valid"},  # 403 before the 422
    ],
)
def test_an_org_admin_cannot_move_its_sites_or_storage(
    keeper: Keeper, change: dict[str, str]
) -> None:
    ok(post_org(keeper, "lsst", base_domain="lsst.test"), 201)
    admin = create_token(keeper, "lsst", "admin")
    before = org(keeper, "lsst")
    refused = patch_org(keeper, "lsst", admin, title="Renamed", **change)
    assert "superadmin" in assert_error(refused, 403, "forbidden")
    assert org(keeper, "lsst") == before


def test_an_org_admin_may_send_back_what_the_org_has(keeper: Keeper) -> None:
    """A read-modify-write of the whole org changes no platform field."""
    ok(post_org(keeper, "lsst", base_domain="lsst.test", url_layout="path"), 201)
    admin = create_token(keeper, "lsst", "admin")
    whole = org(keeper, "lsst")
    fields = {
        k: whole[k] for k in ("base_domain", "url_layout", "storage_url", "cdn_kind")
    }
    changed = ok(patch_org(keeper, "lsst", admin, title="Renamed", **fields))
    assert changed["title"] == "Renamed"
    ok(patch_org(keeper, "lsst", admin, base_domain="LSST.test."))  # the same host


def test_a_superadmin_moves_an_orgs_sites(keeper: Keeper) -> None:
    ok(post_org(keeper, "lsst", base_domain="lsst.test"), 201)
    changed = ok(patch_org(keeper, "lsst", base_domain="lsst.io", url_layout="path"))
    assert (changed["base_domain"], changed["url_layout"]) == ("lsst.io", "path")
    # The old domain is free again.
    ok(post_org(keeper, "other", base_domain="lsst.test"), 201)


# -- storage_url ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://files.example/docs", "'ftp://'"),
        ("/srv/docs", "a plain path"),
        ("docs", "a plain path"),
        ("C:\\docs", "a plain path"),
        ("file://relative/docs", "absolute path"),
        ("file:///", "root folder"),
        ("file:///srv/docs?x=1", "no query"),
        ("", "null"),
        (" s3://bucket", "spaces"),
        ("s3://", "no bucket"),
        ("s3://bucket/p?colour=red", "unknown S3 store option"),
        ("s3://bucket/p?endpoint_url=ftp://minio:9000", "http:// or https://"),
        ("s3://bucket/p?endpoint_url=minio:9000", "http:// or https://"),
        ("s3://bucket/p?presigned_post=maybe", "presigned_post"),
        ("s3://bucket/p?addressing_style=sideways", "addressing_style"),
        ("s3://bucket/a/../b", "cannot be used"),
        ("s3://bucket/p?region=not%20a%20region", "cannot be used"),
    ],
)
def test_a_storage_url_keeper_cannot_use_is_refused_with_the_reason(
    keeper: Keeper, url: str, reason: str
) -> None:
    msg = assert_error(post_org(keeper, "lsst", storage_url=url), 422, None)
    assert reason in msg, msg
    assert keeper.client.get("/api/orgs/lsst").status_code == 404
    ok(post_org(keeper, "lsst"), 201)
    msg = assert_error(patch_org(keeper, "lsst", storage_url=url), 422, None)
    assert reason in msg, msg
    assert org(keeper, "lsst")["storage_url"] is None
    # Nothing half-written: every org still reads.
    ok(keeper.client.get("/api/orgs"))


@pytest.mark.parametrize(
    "url",
    [
        "s3://docs-bucket",
        "s3://docs-bucket/lsst?endpoint_url=http://127.0.0.1:9000&region=us-east-1",
        "s3://docs-bucket/lsst?endpoint_url=https://s3.example&presigned_post=false"
        "&addressing_style=path",
        "file://{tmp}/lsst",
    ],
)
def test_a_usable_storage_url_is_kept_as_given(
    keeper: Keeper, url: str, tmp_path: Path
) -> None:
    url = url.format(tmp=tmp_path)
    assert ok(post_org(keeper, "lsst", storage_url=url), 201)["storage_url"] == url
    ok(post_org(keeper, "other"), 201)
    assert ok(patch_org(keeper, "other", storage_url=url))["storage_url"] == url
