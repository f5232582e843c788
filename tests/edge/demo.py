"""The demo org every edge is checked against.

Org ``docs`` (base domain ``docs.test``, subdomain layout) with:

- product ``demo``: an ``old`` and then a ``main`` build on ``main`` (so
  ``__main`` shows ``main``, and ``old`` stays reachable by id and by pin),
  a ``draft`` build on ref ``draft`` (edition ``draft``, a draft), and a
  product redirect rule ``/start`` → ``/guide/``;
- product ``plain``: one build without a ``404.html``, holding a page and
  assets marked ``SECRET`` that no request for ``demo`` may ever return.

``main`` has a name with a composed ``é`` (NFC) and one with a decomposed
``ï`` (NFD), for the Unicode normalisation twins of the table.

Built through the HTTP API of a real ``keeper serve``, with content types
from the same table ``ltd upload`` uses.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest

from keeper.domain.content_types import content_type_for
from keeper.edge.rules import GENERATED_PAGES
from keeper.edge.site import SiteView
from keeper.storage import ObjectNotFound, ObjectStore, child, store_from_url
from tests.publishing import publish
from tests.served import ServedKeeper, keeper_binary, served_keeper
from tests.servers import S3Endpoint

ORG = "docs"
DOMAIN = "docs.test"
HOST = f"demo.{DOMAIN}"
PLAIN_HOST = f"plain.{DOMAIN}"
BIG = bytes(range(256)) * 4  # 1,024 bytes for Range requests

Files = dict[str, bytes]


def page(text: str) -> bytes:
    return f"<!doctype html><title>{text}</title><h1>{text}</h1>\n".encode()


def asset(build: str) -> bytes:
    return f"/* build {build} */\n".encode()


OLD: Files = {
    "index.html": page("OLD index"),
    "_static/app.js": asset("OLD"),
}
MAIN: Files = {
    "index.html": page("MAIN index"),
    "page.html": page("MAIN page"),
    "a b.html": page("MAIN space"),
    "guide/index.html": page("MAIN guide"),
    "_static/app.js": asset("MAIN"),
    "_static/style.css": b"/* MAIN style */ body { color: black }\n",
    "data.json": b'{"build": "MAIN"}\n',
    "img.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><!-- MAIN --></svg>\n',
    "big.bin": BIG,
    "404.html": page("MAIN not-found page"),
    "caf\u00e9.html": page("MAIN caf\u00e9 NFC"),
    "nai\u0308ve.html": page("MAIN na\u00efve NFD"),
    "_redirects": (
        b"# moved pages\n"
        b"/old.html /page.html\n"
        b"/moved/* /guide/:splat 302\n"
        b"/ext https://example.org/x 302\n"
    ),
}
DRAFT: Files = {
    "index.html": page("DRAFT index"),
    "_static/app.js": asset("DRAFT"),
}
PLAIN: Files = {
    "index.html": page("PLAIN index"),
    "secret.html": page("SECRET of plain"),
    # Assets a pin naming this build must never bring to demo's pages.
    "_static/app.js": b"/* SECRET plain asset */\n",
    "_static/secret.js": b"/* SECRET plain script */\n",
}


@dataclass
class Demo:
    """The running keeper and what was published on it."""

    keeper: ServedKeeper
    env: dict[str, str]
    #: Build ids by name: ``old``, ``main``, ``draft``, ``plain``.
    ids: dict[str, str] = field(default_factory=dict)

    def keeper_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``keeper`` command on the same database and store."""
        return subprocess.run(
            [keeper_binary(), *args],
            cwd=self.keeper.workdir,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def publish(self, product: str, files: Files, git_ref: str) -> str:
        """Register, upload and confirm a build; returns its id."""
        build = publish(
            self.keeper.client,
            f"/api/orgs/{ORG}/products/{product}",
            self.keeper.auth(),
            files,
            git_ref,
            types=content_type_for,
        )
        build_id: str = build["id"]
        return build_id

    def store(self, org: str = ORG) -> ObjectStore:
        """The org's store, as the keeper reads and writes it."""
        return org_store(self.keeper.workdir, self.env, org)

    def pages(self, site: SiteView) -> dict[str, bytes]:
        """The pages keeper has generated for ``site`` so far, by name."""
        store = self.store(site.org)
        found = {}
        for page in GENERATED_PAGES.values():
            with suppress(ObjectNotFound):
                found[page] = store.get(site.meta_prefix + page)
        return found

    def point(self, edition: str, build: str, product: str = "demo") -> None:
        """Re-point an edition by hand (what a rollback or admin does)."""
        response = self.keeper.client.patch(
            f"/api/orgs/{ORG}/products/{product}/editions/{edition}",
            headers=self.keeper.auth(),
            json={"build": build},
        )
        assert response.status_code == 200, response.text


def populate(demo: Demo) -> None:
    client, auth = demo.keeper.client, demo.keeper.auth()
    response = client.post(
        "/api/orgs",
        headers=auth,
        json={"slug": ORG, "title": "Docs", "base_domain": DOMAIN},
    )
    assert response.status_code == 201, response.text
    for slug, rules in (
        ("demo", [{"from": "/start", "to": "/guide/", "status": 302}]),
        ("plain", []),
    ):
        response = client.post(
            f"/api/orgs/{ORG}/products",
            headers=auth,
            json={"slug": slug, "title": slug.title(), "redirects": rules},
        )
        assert response.status_code == 201, response.text
    demo.ids["old"] = demo.publish("demo", OLD, "main")
    demo.ids["main"] = demo.publish("demo", MAIN, "main")
    demo.ids["draft"] = demo.publish("demo", DRAFT, "draft")
    demo.ids["plain"] = demo.publish("plain", PLAIN, "main")
    editions = client.get(f"/api/orgs/{ORG}/products/demo/editions").json()
    showing = {e["slug"]: e["build_id"] for e in editions}
    assert showing == {"__main": demo.ids["main"], "draft": demo.ids["draft"]}


def store_env(
    request: pytest.FixtureRequest, store: str, *, anonymous_reads: bool = False
) -> dict[str, str]:
    """Keeper's environment for ``store``: ``filesystem`` (keeper's default)
    or ``s3``, a fresh bucket on the ``moto_s3`` server, readable without
    credentials when an edge that cannot sign (nginx, Varnish) reads it."""
    if store == "filesystem":
        return {}
    moto: S3Endpoint = request.getfixturevalue("moto_s3")
    bucket = moto.new_bucket()
    if anonymous_reads:
        moto.allow_anonymous_reads(bucket)
    return moto.keeper_env(bucket)


def org_store(workdir: Path, env: Mapping[str, str], org: str) -> ObjectStore:
    """``org``'s store for the keeper run in ``workdir`` with ``env``."""
    url = env.get("KEEPER_STORAGE_URL", "file://keeper-data/storage")
    # An S3 store takes its credentials from the environment, keeper's here.
    credentials = {k: v for k, v in env.items() if k.startswith("AWS_")}
    with mock.patch.dict(os.environ, credentials):
        return child(store_from_url(url, base_dir=workdir), org)


PATH_DOMAIN = "paths.test"


def populate_path_layout(keeper: ServedKeeper) -> None:
    """Org ``paths`` (``paths.test``, path layout) with product ``demo``:
    ``main`` on ``__main``, ``x`` on edition ``x``, a product rule
    ``/start`` → ``/guide/`` and a ``_redirects`` rule ``/old.html``."""
    client, auth = keeper.client, keeper.auth()
    response = client.post(
        "/api/orgs",
        headers=auth,
        json={
            "slug": "paths",
            "title": "Paths",
            "base_domain": PATH_DOMAIN,
            "url_layout": "path",
        },
    )
    assert response.status_code == 201, response.text
    response = client.post(
        "/api/orgs/paths/products",
        headers=auth,
        json={
            "slug": "demo",
            "title": "Demo",
            "redirects": [{"from": "/start", "to": "/guide/", "status": 302}],
        },
    )
    assert response.status_code == 201, response.text
    base = "/api/orgs/paths/products/demo"
    main = {
        "index.html": page("PATH main"),
        "guide/index.html": page("PATH guide"),
        "_redirects": b"/old.html /index.html\n",
    }
    publish(client, base, auth, main, "main")
    publish(client, base, auth, {"index.html": page("PATH x")}, "x")


@contextmanager
def demo_keeper(workdir: Path, env: dict[str, str] | None = None) -> Iterator[Demo]:
    """A `keeper serve` in ``workdir`` with the demo org published."""
    env = dict(env or {})
    with served_keeper(workdir, env) as keeper:
        demo = Demo(keeper=keeper, env={**env, "KEEPER_BASE_URL": keeper.url})
        populate(demo)
        yield demo
