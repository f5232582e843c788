"""Redirect rules reach keeper two ways: a product's rules through the API,
and a build's own ``_redirects`` file, read when the build completes."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from keeper.db import Build, BuildFile
from keeper.db.engine import make_engine
from tests.api.test_publishing import BASE
from tests.conftest import Keeper
from tests.publishing import confirm, failed_with, publish, register, site, upload

PRODUCT = "/api/orgs/lsst/products/pipelines"


def test_product_rules_are_set_shown_and_replaced(product: Keeper) -> None:  # noqa: F811
    rules = [
        {"from": "/start", "to": "/guide/", "status": 302},
        {"from": "/old/*", "to": "/v/1.0/:splat", "status": 301},
    ]
    r = product.client.patch(PRODUCT, headers=product.auth(), json={"redirects": rules})
    assert r.status_code == 200, r.text
    assert product.client.get(PRODUCT).json()["redirects"] == rules
    r = product.client.patch(PRODUCT, headers=product.auth(), json={"redirects": []})
    assert r.json()["redirects"] == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"from": "/a", "to": "/b", "status": 200}, "not a redirect"),
        ({"from": "a", "to": "/b"}, "'from' must be a path"),
        ({"from": "/a", "to": "//evil.example"}, "may not start with '//'"),
        ({"from": "/a", "to": "/b", "extra": 1}, "Extra inputs"),
    ],
)
def test_bad_product_rules_are_refused(
    product: Keeper,  # noqa: F811
    rule: dict[str, object],
    message: str,
) -> None:
    r = product.client.patch(
        PRODUCT, headers=product.auth(), json={"redirects": [rule]}
    )
    assert r.status_code == 422
    assert message in r.text
    assert product.client.get(PRODUCT).json()["redirects"] == []


def test_a_builds_redirects_file_is_read_when_it_completes(product: Keeper) -> None:  # noqa: F811
    files = site("one") | {"_redirects": b"/old.html /page0.html\n/a/* /b/:splat 302\n"}
    build = publish(product.client, BASE, product.auth(), files)
    assert build["status"] == "complete"
    engine = make_engine(product.settings.database_url)
    with Session(engine) as session:
        row = session.exec(select(Build).where(Build.public_id == build["id"])).one()
    engine.dispose()
    assert row.redirects == [
        {"from": "/old.html", "to": "/page0.html", "status": 301},
        {"from": "/a/*", "to": "/b/:splat", "status": 302},
    ]


def test_a_bad_redirects_file_fails_the_build_naming_the_line(product: Keeper) -> None:  # noqa: F811
    files = site("one") | {"_redirects": b"# ok\n/old.html /page0.html\n/x /y 299\n"}
    build = register(product.client, BASE, product.auth(), files)
    upload(product.client, build, files)
    error = failed_with(confirm(product.client, BASE, product.auth(), build["id"]))
    assert "_redirects line 3: status 299 is not a redirect" in error
    editions = product.client.get(f"{BASE}/editions").json()
    assert all(e["build_id"] is None for e in editions)
    # Every other file checked out, but a failed build vouches for none.
    engine = make_engine(product.settings.database_url)
    with Session(engine) as session:
        flags = session.exec(select(BuildFile.sha256_verified)).all()
    engine.dispose()
    assert flags and not any(flags)
