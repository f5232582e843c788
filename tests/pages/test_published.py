"""Keeper writes a product's pages to ``<product>/_meta/`` in its org's store
after every change readers could see, through the API as clients use it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from keeper.app import create_app
from keeper.db import MAIN_EDITION
from tests.conftest import Keeper
from tests.pages.conftest import (
    BASE,
    ORG,
    PAGES,
    PRODUCT,
    Docs,
    Html,
    create_org,
    create_product,
)
from tests.publishing import publish, site
from tests.settled import settle


def publish_four(docs: Docs) -> dict[str, dict[str, Any]]:
    """main on ``__main``, v1.0.0 and v2.0.0 (editions 1, 1.0, 2, 2.0) and a
    ticket branch (draft DM-1)."""
    refs = {
        "main": "main",
        "v1": "v1.0.0",
        "v2": "v2.0.0",
        "draft": "tickets/DM-1",
    }
    return {
        name: publish(docs.client, BASE, docs.h, site(name), git_ref=ref)
        for name, ref in refs.items()
    }


def versions_of(entries: list[dict[str, Any]]) -> list[str]:
    return [e["version"] for e in entries]


def test_publishing_writes_every_page(docs: Docs) -> None:
    # A new product's pages say that nothing is published yet.
    assert docs.meta_keys() == set(PAGES)
    assert docs.switcher() == [] and docs.versions() == []
    assert "Nothing has been published yet" in docs.html("v/index.html")
    builds = publish_four(docs)
    assert docs.meta_keys() == set(PAGES)

    switcher = docs.switcher()
    slugs = versions_of(switcher)
    assert slugs[0] == MAIN_EDITION and slugs[-1] == "DM-1"
    assert set(slugs[1:-1]) == {"2.0", "2", "1.0", "1"}
    assert slugs.index("2") < slugs.index("1.0")  # newest release first
    assert [e for e in switcher if e.get("preferred")] == [
        {"name": "Latest", "version": MAIN_EDITION, "url": "/", "preferred": True}
    ]
    for e in switcher[1:]:
        assert e["url"] == f"/v/{e['version']}/"
        assert "preferred" not in e
    assert versions_of(docs.versions()) == slugs
    assert docs.versions()[-1]["properties"]["build"] == builds["draft"]["id"]

    dashboard = Html(docs.html("v/index.html"))
    assert dashboard.rows("edition") == slugs
    assert builds["v2"]["id"] in docs.html("v/index.html")
    build_list = Html(docs.html("builds/index.html"))
    assert build_list.rows("build") == [
        builds[name]["id"] for name in ("draft", "v2", "v1", "main")
    ]

    infos = {o.key: o for o in docs.store().list(f"{PRODUCT}/_meta/")}
    types = {
        k.removeprefix(f"{PRODUCT}/_meta/"): o.content_type for k, o in infos.items()
    }
    assert types["v/switcher.json"] == types["v/versions.json"] == "application/json"
    assert (types["v/index.html"] or "").startswith("text/html")


def test_the_dashboard_links_the_source_tree_the_build_came_from(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("x"), ci={"commit": "0a1b2c3"})
    page = Html(docs.html("v/index.html"))
    # The product's repository, without ".git", at the commit.
    assert "https://github.com/lsst/pipelines/tree/0a1b2c3" in page.hrefs()
    r = docs.client.patch(
        f"/api/orgs/{ORG}/products/{PRODUCT}",
        headers=docs.h,
        json={"source_repo_url": "https://gitlab.com/lsst/pipelines"},
    )
    assert r.status_code == 200, r.text
    page = Html(docs.html("v/index.html"))
    assert "https://gitlab.com/lsst/pipelines/-/tree/0a1b2c3" in page.hrefs()
    r = docs.client.patch(
        f"/api/orgs/{ORG}/products/{PRODUCT}",
        headers=docs.h,
        json={"source_repo_url": None},
    )
    assert r.status_code == 200, r.text
    assert not [h for h in Html(docs.html("v/index.html")).hrefs() if "lab" in h]
    assert "not recorded" in docs.html("v/index.html")


def test_repointing_an_edition_rewrites_the_pages(docs: Docs) -> None:
    builds = publish_four(docs)
    before = {name: docs.page(name) for name in PAGES}
    docs.edition(MAIN_EDITION, build=builds["v1"]["id"])
    main = docs.versions()[0]
    assert main["version"] == MAIN_EDITION
    assert main["properties"]["build"] == builds["v1"]["id"]
    assert main["properties"]["git_ref"] == "v1.0.0"
    assert docs.page("v/index.html") != before["v/index.html"]
    assert docs.page("builds/index.html") != before["builds/index.html"]
    # Nothing the switcher shows changed, so its object stays as it was.
    assert docs.page("v/switcher.json") == before["v/switcher.json"]
    row = Html(docs.html("builds/index.html"))
    assert row.rows("build")[2] == builds["v1"]["id"]


def test_hidden_and_deleted_editions_leave_the_pages(docs: Docs) -> None:
    publish_four(docs)
    docs.edition("DM-1", hidden=True)
    for pages in (docs.switcher(), docs.versions()):
        assert "DM-1" not in versions_of(pages)
    assert "DM-1" not in Html(docs.html("v/index.html")).rows("edition")
    assert "/v/DM-1/" not in docs.html("builds/index.html")

    docs.edition("DM-1", hidden=False, title="Ticket one")
    entry = docs.switcher()[-1]
    assert entry == {"name": "Ticket one", "version": "DM-1", "url": "/v/DM-1/"}

    docs.edition("DM-1", slug="DM-one")
    assert versions_of(docs.switcher())[-1] == "DM-one"
    r = docs.client.delete(f"{BASE}/editions/DM-one", headers=docs.h)
    assert r.status_code == 204
    assert "DM-one" not in versions_of(docs.switcher())
    assert "DM-one" not in docs.html("v/index.html")


def test_deleting_a_build_takes_it_off_the_build_list(docs: Docs) -> None:
    kept = publish(docs.client, BASE, docs.h, site("one"))
    gone = publish(docs.client, BASE, docs.h, site("two"))
    docs.edition(MAIN_EDITION, build=kept["id"])
    assert gone["id"] in docs.html("builds/index.html")
    r = docs.client.delete(f"{BASE}/builds/{gone['id']}", headers=docs.h)
    assert r.status_code == 204, r.text
    assert Html(docs.html("builds/index.html")).rows("build") == [kept["id"]]


def test_titles_are_escaped_in_the_stored_pages(docs: Docs) -> None:
    evil = "<script>alert(1)</script>"
    publish(docs.client, BASE, docs.h, site("main"))
    r = docs.client.patch(
        f"/api/orgs/{ORG}/products/{PRODUCT}", headers=docs.h, json={"title": evil}
    )
    assert r.status_code == 200, r.text
    docs.edition(MAIN_EDITION, title=evil)
    for name in ("v/index.html", "builds/index.html"):
        html = docs.html(name)
        assert "<script" not in html, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, name
    assert docs.switcher()[0]["name"] == evil  # JSON needs no HTML escaping


def test_deleting_a_product_leaves_nothing_of_its_pages(docs: Docs) -> None:
    create_product(docs.keeper, ORG, "other")
    publish(docs.client, BASE, docs.h, site("main"))
    publish(docs.client, f"/api/orgs/{ORG}/products/other", docs.h, site("other"))
    other_pages = {name: docs.page(name, "other") for name in PAGES}
    assert docs.meta_keys() == set(PAGES)

    r = docs.client.delete(f"/api/orgs/{ORG}/products/{PRODUCT}", headers=docs.h)
    assert r.status_code == 204, r.text
    assert docs.meta_keys() == set()
    assert list(docs.store().list(f"{PRODUCT}/")) == []
    assert {name: docs.page(name, "other") for name in PAGES} == other_pages


def test_a_path_layout_org_puts_the_product_in_every_url(keeper: Keeper) -> None:
    create_org(keeper, "paths", url_layout="path")
    create_product(keeper, "paths", "docs")
    docs = Docs(keeper)
    base = "/api/orgs/paths/products/docs"
    publish(keeper.client, base, keeper.auth(), site("main"))
    publish(keeper.client, base, keeper.auth(), site("x"), git_ref="feature-x")
    switcher = docs.switcher("docs", "paths")
    assert [e["url"] for e in switcher] == ["/docs/", "/docs/v/feature-x/"]
    hrefs = Html(docs.html("v/index.html", "docs", "paths")).hrefs()
    assert "/docs/v/feature-x/" in hrefs and "/docs/builds/" in hrefs
    assert "/v/feature-x/" not in hrefs


def test_changing_the_orgs_layout_rewrites_its_products_pages(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    publish(docs.client, BASE, docs.h, site("x"), git_ref="feature-x")
    assert [e["url"] for e in docs.switcher()] == ["/", "/v/feature-x/"]
    r = docs.client.patch(
        f"/api/orgs/{ORG}", headers=docs.h, json={"url_layout": "path"}
    )
    assert r.status_code == 200, r.text
    assert [e["url"] for e in docs.switcher()] == [
        "/pipelines/",
        "/pipelines/v/feature-x/",
    ]
    r = docs.client.patch(f"/api/orgs/{ORG}", headers=docs.h, json={"title": "Rubin"})
    assert r.status_code == 200, r.text
    assert "Rubin" in Html(docs.html("v/index.html")).all_text()


def test_edition_slugs_never_take_a_switcher_files_name(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    for slug in ("switcher.json", "versions.json"):
        r = docs.client.post(
            f"{BASE}/editions", headers=docs.h, json={"slug": slug, "kind": "draft"}
        )
        assert r.status_code == 422, r.text
        r = docs.client.patch(
            f"{BASE}/editions/{MAIN_EDITION}", headers=docs.h, json={"slug": slug}
        )
        assert r.status_code == 422, r.text
    # A branch of that name gets an edition, under another slug.
    built = publish(docs.client, BASE, docs.h, site("odd"), git_ref="switcher.json")
    assert built["editions"] and "switcher.json" not in built["editions"]
    (slug,) = built["editions"]
    assert slug in versions_of(docs.switcher())
    assert {e["url"] for e in docs.switcher()} >= {f"/v/{slug}/"}


def test_a_template_that_fails_on_real_data_falls_back_to_keepers(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    expected = docs.page("v/index.html")
    # Fine on the sample product, fails on this one.
    source = (
        "{% if product == 'sample' %}ok{% else %}{{ editions[99].title }}{% endif %}"
    )
    r = docs.client.put(
        f"/api/orgs/{ORG}/templates/editions.html",
        headers=docs.h,
        json={"source": source},
    )
    assert r.status_code == 200, r.text
    publish(docs.client, BASE, docs.h, site("again"))
    html = docs.html("v/index.html")
    assert html != expected.decode()  # written again, for the new build
    assert Html(html).meta("ltd-page") == "editions"


def test_pages_missing_at_start_are_written(docs: Docs) -> None:
    """Keeper writes every product's pages when it starts (products
    published by an older keeper, or while the store was down)."""
    publish(docs.client, BASE, docs.h, site("main"))
    expected = {name: docs.page(name) for name in PAGES}
    docs.store().delete_prefix(f"{PRODUCT}/_meta/")
    assert docs.meta_keys() == set()
    app = create_app(docs.keeper.settings)
    with TestClient(app) as client:
        # Shutting down does not wait for the jobs (keeper stops within
        # seconds of SIGTERM, and the next start catches up): wait here.
        settle(client)
    assert {name: docs.page(name) for name in PAGES} == expected
