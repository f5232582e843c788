"""keeper's built-in edge serves the generated pages from the store: requests
for a product's host through the app, as readers make them."""

from __future__ import annotations

import json

from tests.pages.conftest import BASE, HOST, PRODUCT, Docs, Html, create_org
from tests.pages.conftest import create_product as new_product
from tests.publishing import publish, site

READER = {"Host": HOST}


def test_the_dashboard_is_served_at_v(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    r = docs.client.get("/v/", headers=READER)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.content == docs.page("v/index.html")
    assert Html(r.text).meta("ltd-page") == "editions"
    assert r.headers["Cache-Control"] == "no-cache"
    assert "X-Robots-Tag" not in r.headers
    assert f"lsst/{PRODUCT}" in r.headers["Surrogate-Key"].split()


def test_the_switcher_files_are_served_as_json(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    publish(docs.client, BASE, docs.h, site("x"), git_ref="feature-x")
    for name in ("switcher.json", "versions.json"):
        r = docs.client.get(f"/v/{name}", headers=READER)
        assert r.status_code == 200, name
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.content == docs.page(f"v/{name}")
    switcher = docs.client.get("/v/switcher.json", headers=READER).json()
    assert [(e["version"], e["url"]) for e in switcher] == [
        ("__main", "/"),
        ("feature-x", "/v/feature-x/"),
    ]
    # …and what the switcher links to is there.
    for entry in switcher:
        r = docs.client.get(entry["url"], headers=READER)
        assert r.status_code == 200, entry


def test_the_build_list_is_served_and_never_indexed(docs: Docs) -> None:
    built = publish(docs.client, BASE, docs.h, site("main"))
    r = docs.client.get("/builds/", headers=READER)
    assert r.status_code == 200
    assert r.headers["X-Robots-Tag"] == "noindex"
    assert Html(r.text).rows("build") == [built["id"]]
    r = docs.client.get(f"/builds/{built['id']}/", headers=READER)
    assert r.status_code == 200 and r.text == "<h1>main</h1>"


def test_a_generated_page_revalidates_with_its_etag(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    first = docs.client.get("/v/switcher.json", headers=READER)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = docs.client.get(
        "/v/switcher.json", headers={**READER, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    weak = docs.client.get(
        "/v/switcher.json", headers={**READER, "If-None-Match": f'W/{etag}, "x"'}
    )
    assert weak.status_code == 304

    # A publish changes the file, and with it the answer.
    publish(docs.client, BASE, docs.h, site("x"), git_ref="feature-x")
    changed = docs.client.get(
        "/v/switcher.json", headers={**READER, "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "feature-x" in changed.text


def test_head_of_a_generated_page(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    got = docs.client.get("/v/", headers=READER)
    head = docs.client.head("/v/", headers=READER)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(got.content))


def test_the_dashboards_folders_redirect_to_them(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    for path, location in (
        ("/v", "/v/"),
        ("/builds", "/builds/"),
        ("/v?lang=fr", "/v/?lang=fr"),
    ):
        r = docs.client.get(path, headers=READER, follow_redirects=False)
        assert r.status_code == 301, path
        assert r.headers["Location"] == location


def test_the_keeper_host_answers_with_the_api_not_the_pages(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    r = docs.client.get("/v/switcher.json")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert "detail" in r.json()


def test_a_page_missing_from_the_store_is_the_platforms_404(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    docs.store().delete(f"{PRODUCT}/_meta/v/versions.json")
    r = docs.client.get("/v/versions.json", headers=READER)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert "/v/" in Html(r.text).hrefs()


def test_a_path_layout_product_serves_its_pages_under_its_root(docs: Docs) -> None:
    create_org(docs.keeper, "paths", url_layout="path")
    new_product(docs.keeper, "paths", "guide")
    base = "/api/orgs/paths/products/guide"
    publish(docs.client, base, docs.h, site("main"))
    publish(docs.client, base, docs.h, site("x"), git_ref="feature-x")
    reader = {"Host": "paths.io"}
    r = docs.client.get("/guide/v/", headers=reader)
    assert r.status_code == 200
    hrefs = Html(r.text).hrefs()
    assert "/guide/v/feature-x/" in hrefs and "/guide/" in hrefs
    r = docs.client.get("/guide/v/switcher.json", headers=reader)
    assert [e["url"] for e in json.loads(r.content)] == [
        "/guide/",
        "/guide/v/feature-x/",
    ]
    r = docs.client.get("/guide/v", headers=reader, follow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/guide/v/"
    r = docs.client.get("/guide/builds", headers=reader, follow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/guide/builds/"
    r = docs.client.get("/guide/builds/", headers=reader)
    assert r.status_code == 200 and r.headers["X-Robots-Tag"] == "noindex"
