"""Fixtures for the LTD Keeper 1.x compatibility tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import Keeper

API = "/api/orgs/lsst/products/pipelines"


@dataclass
class Site:
    """The ``lsst`` org with product ``pipelines`` and a token per role."""

    keeper: Keeper
    uploader: str
    reader: str

    def edition(self, slug: str = "__main") -> dict[str, object]:
        response = self.keeper.client.get(f"{API}/editions/{slug}")
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def build(self, build_id: str) -> dict[str, object]:
        response = self.keeper.client.get(f"{API}/builds/{build_id}")
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


def make_org(keeper: Keeper, slug: str, *products: str) -> None:
    client = keeper.client
    response = client.post(
        "/api/orgs",
        headers=keeper.auth(),
        json={"slug": slug, "title": slug.upper(), "base_domain": f"{slug}.io"},
    )
    assert response.status_code == 201, response.text
    for product in products:
        response = client.post(
            f"/api/orgs/{slug}/products",
            headers=keeper.auth(),
            json={"slug": product, "title": product.title()},
        )
        assert response.status_code == 201, response.text


def make_token(keeper: Keeper, org: str, role: str, name: str) -> str:
    response = keeper.client.post(
        f"/api/orgs/{org}/tokens",
        headers=keeper.auth(),
        json={"role": role, "name": name},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
def site(keeper: Keeper) -> Site:
    make_org(keeper, "lsst", "pipelines")
    return Site(
        keeper,
        uploader=make_token(keeper, "lsst", "uploader", "travis"),
        reader=make_token(keeper, "lsst", "reader", "reader"),
    )
