"""Fixtures for the pages keeper generates: a keeper app with org ``lsst``
(subdomain layout) and product ``pipelines``, and a reader of the pages it
wrote to the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest

from keeper.storage import ObjectNotFound, ObjectStore
from keeper.storage.factory import child, store_from_url
from tests.conftest import Keeper

ORG = "lsst"
PRODUCT = "pipelines"
BASE = f"/api/orgs/{ORG}/products/{PRODUCT}"
HOST = f"{PRODUCT}.lsst.io"
PAGES = ("v/index.html", "builds/index.html", "v/switcher.json", "v/versions.json")


@dataclass
class Docs:
    """A keeper with org ``lsst`` and product ``pipelines``."""

    keeper: Keeper

    @property
    def client(self) -> Any:
        return self.keeper.client

    @property
    def h(self) -> dict[str, str]:
        return self.keeper.auth()

    def store(self, org: str = ORG) -> ObjectStore:
        """The org's share of keeper's store (orgs have no store of their own
        here)."""
        return child(store_from_url(self.keeper.settings.storage_url), org)

    def meta_keys(self, product: str = PRODUCT, org: str = ORG) -> set[str]:
        prefix = f"{product}/_meta/"
        return {o.key.removeprefix(prefix) for o in self.store(org).list(prefix)}

    def page(self, name: str, product: str = PRODUCT, org: str = ORG) -> bytes:
        return self.store(org).get(f"{product}/_meta/{name}")

    def has_page(self, name: str, product: str = PRODUCT, org: str = ORG) -> bool:
        try:
            self.page(name, product, org)
        except ObjectNotFound:
            return False
        return True

    def switcher(self, product: str = PRODUCT, org: str = ORG) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = json.loads(
            self.page("v/switcher.json", product, org)
        )
        return value

    def versions(self, product: str = PRODUCT, org: str = ORG) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = json.loads(
            self.page("v/versions.json", product, org)
        )
        return value

    def html(self, name: str, product: str = PRODUCT, org: str = ORG) -> str:
        return self.page(name, product, org).decode()

    def edition(self, slug: str, /, **changes: Any) -> dict[str, Any]:
        r = self.client.patch(f"{BASE}/editions/{slug}", headers=self.h, json=changes)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def create_org(keeper: Keeper, slug: str, **fields: Any) -> None:
    body = {"slug": slug, "title": slug.upper(), "base_domain": f"{slug}.io", **fields}
    r = keeper.client.post("/api/orgs", headers=keeper.auth(), json=body)
    assert r.status_code == 201, r.text


def create_product(keeper: Keeper, org: str, slug: str, **fields: Any) -> None:
    body = {"slug": slug, "title": slug.title(), **fields}
    r = keeper.client.post(
        f"/api/orgs/{org}/products", headers=keeper.auth(), json=body
    )
    assert r.status_code == 201, r.text


@pytest.fixture
def docs(keeper: Keeper) -> Docs:
    create_org(keeper, ORG, title="LSST")
    create_product(
        keeper,
        ORG,
        PRODUCT,
        title="Pipelines",
        source_repo_url="https://github.com/lsst/pipelines.git",
    )
    return Docs(keeper)


class Html(HTMLParser):
    """The parts of a page the tests look at: every start tag with its
    attributes, and the text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]

    def hrefs(self) -> list[str]:
        return [a["href"] for a in self.find("a") if "href" in a]

    def meta(self, name: str) -> str | None:
        found = self.find("meta", name=name)
        return found[0]["content"] if found else None

    def rows(self, attr: str) -> list[str]:
        """The ``data-<attr>`` of every table row, in page order."""
        return [a[f"data-{attr}"] for a in self.find("tr") if f"data-{attr}" in a]

    def all_text(self) -> str:
        return "".join(self.text)
