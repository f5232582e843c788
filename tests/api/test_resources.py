"""Create, read, update and delete organizations, products, editions and
builds through the API, and page through their lists."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

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
    list_all,
    ok,
    publish_build,
    register_build,
)
from tests.conftest import Keeper

INVALID_SLUGS = ["Acme", "-acme", "acme-", "ac_me", "ac.me", "ac me", "", "a" * 64]


@pytest.fixture
def docs(keeper: Keeper) -> Keeper:
    """Org ``acme`` with the product ``docs``."""
    create_org(keeper, ORG)
    create_product(keeper, ORG, PRODUCT)
    return keeper


def get(keeper: Keeper, url: str) -> Json:
    return ok(keeper.client.get(url))


def post(keeper: Keeper, url: str, body: Json, status: int = 201) -> Json:
    return ok(keeper.client.post(url, json=body, headers=keeper.auth()), status)


def patch(keeper: Keeper, url: str, body: Json) -> Json:
    return ok(keeper.client.patch(url, json=body, headers=keeper.auth()))


def delete(keeper: Keeper, url: str) -> None:
    response = keeper.client.delete(url, headers=keeper.auth())
    assert response.status_code == 204, response.text
    assert response.content == b""


def edition(keeper: Keeper, slug: str) -> Json:
    return get(keeper, f"{DOCS}/editions/{slug}")


def history(keeper: Keeper, slug: str) -> list[Json]:
    return list_all(keeper, f"{DOCS}/editions/{slug}/history")


def create_edition(keeper: Keeper, slug: str, **fields: Any) -> Json:
    return post(keeper, f"{DOCS}/editions", {"slug": slug, **fields})


def timestamp(value: str) -> datetime:
    """An API timestamp, which must be in UTC."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


# -- organizations ---------------------------------------------------------------


def test_org_round_trip(keeper: Keeper) -> None:
    created = create_org(keeper, ORG, base_domain="acme.io")
    assert created["slug"] == ORG
    assert created["title"] == "Acme"
    assert created["base_domain"] == "acme.io"
    assert created["url_layout"] == "subdomain"
    assert created["cdn_kind"] == "none"
    assert created["cdn_settings"] == {}
    assert created["storage_url"] is None
    assert (created["site_scheme"], created["site_port"]) == ("https", None)
    assert timestamp(created["created"]) <= timestamp(created["updated"])
    assert get(keeper, f"/api/orgs/{ORG}") == created
    assert list_all(keeper, "/api/orgs") == [created]

    changed = patch(keeper, f"/api/orgs/{ORG}", {"title": "Acme Corp"})
    assert changed["title"] == "Acme Corp"
    assert changed["base_domain"] == "acme.io", "fields not sent stay as they were"
    assert changed["created"] == created["created"]
    assert timestamp(changed["updated"]) > timestamp(created["updated"])
    assert get(keeper, f"/api/orgs/{ORG}") == changed

    delete(keeper, f"/api/orgs/{ORG}")
    assert_error(keeper.client.get(f"/api/orgs/{ORG}"), 404, "not_found")
    assert list_all(keeper, "/api/orgs") == []


@pytest.mark.parametrize(
    "site", [{"site_scheme": "ftp"}, {"site_port": 0}, {"site_port": 65536}]
)
def test_a_site_scheme_or_port_that_cannot_be_is_refused(
    keeper: Keeper, site: dict[str, Any]
) -> None:
    response = keeper.client.post(
        "/api/orgs", json={"slug": ORG, "title": "X", **site}, headers=keeper.auth()
    )
    assert_error(response, 422, None)
    assert list_all(keeper, "/api/orgs") == []


def test_duplicate_org_slug_is_a_conflict(keeper: Keeper) -> None:
    create_org(keeper, ORG, title="First")
    response = keeper.client.post(
        "/api/orgs", json={"slug": ORG, "title": "Second"}, headers=keeper.auth()
    )
    assert ORG in assert_error(response, 409, "conflict")
    assert get(keeper, f"/api/orgs/{ORG}")["title"] == "First"


@pytest.mark.parametrize("slug", INVALID_SLUGS)
def test_invalid_org_slug_is_rejected(keeper: Keeper, slug: str) -> None:
    response = keeper.client.post(
        "/api/orgs", json={"slug": slug, "title": "X"}, headers=keeper.auth()
    )
    assert_error(response, 422, "string_pattern_mismatch")
    assert list_all(keeper, "/api/orgs") == []


def test_deleting_an_org_with_products_is_a_conflict(docs: Keeper) -> None:
    response = docs.client.delete(f"/api/orgs/{ORG}", headers=docs.auth())
    assert "delete them first" in assert_error(response, 409, "conflict")
    assert get(docs, DOCS)["slug"] == PRODUCT


def test_an_org_emptied_of_products_can_be_deleted(docs: Keeper) -> None:
    delete(docs, DOCS)
    delete(docs, f"/api/orgs/{ORG}")
    assert_error(docs.client.get(f"/api/orgs/{ORG}"), 404, "not_found")


def test_deleting_an_org_revokes_its_tokens(keeper: Keeper) -> None:
    create_org(keeper, ORG)
    admin = create_token(keeper, ORG, "admin")

    delete(keeper, f"/api/orgs/{ORG}")

    # A new org of the same name must not honour the old org's tokens.
    create_org(keeper, ORG)
    response = keeper.client.patch(
        f"/api/orgs/{ORG}", json={"title": "Hijacked"}, headers=keeper.auth(admin)
    )
    assert_error(response, 401, "unauthorized")


# -- products --------------------------------------------------------------------


def test_product_round_trip(keeper: Keeper) -> None:
    create_org(keeper, ORG)
    created = create_product(
        keeper, ORG, PRODUCT, source_repo_url="https://github.com/acme/docs"
    )
    assert created["org"] == ORG
    assert created["slug"] == PRODUCT
    assert created["title"] == "Docs"
    assert created["source_repo_url"] == "https://github.com/acme/docs"
    assert created["published_url"] is None, "the org has no base domain"
    assert get(keeper, DOCS) == created
    assert list_all(keeper, PRODUCTS) == [created]

    changed = patch(keeper, DOCS, {"title": "Handbook"})
    assert changed["title"] == "Handbook"
    assert changed["source_repo_url"] == "https://github.com/acme/docs"
    assert timestamp(changed["updated"]) > timestamp(created["updated"])
    assert get(keeper, DOCS) == changed

    delete(keeper, DOCS)
    assert_error(keeper.client.get(DOCS), 404, "not_found")
    assert list_all(keeper, PRODUCTS) == []


@pytest.mark.parametrize(
    ("layout", "site", "url"),
    [
        ("subdomain", {}, "https://docs.acme.io/"),
        ("path", {}, "https://acme.io/docs/"),
        ("subdomain", {"site_scheme": "http"}, "http://docs.acme.io/"),
        ("subdomain", {"site_port": 8443}, "https://docs.acme.io:8443/"),
        (
            "path",
            {"site_scheme": "http", "site_port": 8000},
            "http://acme.io:8000/docs/",
        ),
        ("subdomain", {"site_scheme": "http", "site_port": 80}, "http://docs.acme.io/"),
    ],
)
def test_product_url_follows_the_org_layout_scheme_and_port(
    keeper: Keeper, layout: str, site: dict[str, Any], url: str
) -> None:
    create_org(keeper, ORG, base_domain="acme.io", url_layout=layout, **site)
    assert create_product(keeper)["published_url"] == url
    assert edition(keeper, "__main")["published_url"] == url
    beta = create_edition(keeper, "beta", tracking_params={"git_ref": "beta"})
    assert beta["published_url"] == f"{url}v/beta/"


def test_new_product_has_a_main_edition_tracking_main(docs: Keeper) -> None:
    editions = list_all(docs, f"{DOCS}/editions")
    assert [e["slug"] for e in editions] == ["__main"]
    main = editions[0]
    assert main["kind"] == "main"
    assert main["tracking_mode"] == "git_ref"
    assert main["tracking_params"] == {"git_ref": "main"}
    assert main["build_id"] is None
    assert main["published"] is None
    assert history(docs, "__main") == []


def test_duplicate_product_slug_is_a_conflict_within_one_org_only(
    docs: Keeper,
) -> None:
    response = docs.client.post(
        PRODUCTS, json={"slug": PRODUCT, "title": "Again"}, headers=docs.auth()
    )
    assert PRODUCT in assert_error(response, 409, "conflict")
    assert get(docs, DOCS)["title"] == "Docs"

    create_org(docs, "other")
    assert create_product(docs, "other", PRODUCT)["org"] == "other"


@pytest.mark.parametrize("slug", INVALID_SLUGS)
def test_invalid_product_slug_is_rejected(docs: Keeper, slug: str) -> None:
    response = docs.client.post(
        PRODUCTS, json={"slug": slug, "title": "X"}, headers=docs.auth()
    )
    assert_error(response, 422, "string_pattern_mismatch")
    assert [p["slug"] for p in list_all(docs, PRODUCTS)] == [PRODUCT]


def test_deleting_a_product_removes_its_editions_and_builds(docs: Keeper) -> None:
    build_id = publish_build(docs, "main")
    create_edition(docs, "beta", tracking_params={"git_ref": "main"})

    delete(docs, DOCS)

    for url in (
        DOCS,
        f"{DOCS}/editions",
        f"{DOCS}/editions/beta",
        f"{DOCS}/builds/{build_id}",
    ):
        assert_error(docs.client.get(url), 404, "not_found")
    # A product made again under the same slug starts empty: nothing of the
    # old one is left behind to be found.
    create_product(docs)
    assert [e["slug"] for e in list_all(docs, f"{DOCS}/editions")] == ["__main"]
    assert edition(docs, "__main")["build_id"] is None
    assert history(docs, "__main") == []
    assert list_all(docs, f"{DOCS}/builds") == []
    assert_error(docs.client.get(f"{DOCS}/builds/{build_id}"), 404, "not_found")


# -- editions --------------------------------------------------------------------


def test_edition_round_trip(docs: Keeper) -> None:
    created = create_edition(docs, "beta", tracking_params={"git_ref": "beta"})
    assert created["slug"] == "beta"
    assert created["title"] == "beta", "the title defaults to the slug"
    assert created["kind"] == "draft"
    assert created["tracking_mode"] == "git_ref"
    assert created["tracking_params"] == {"git_ref": "beta"}
    assert created["build_id"] is None
    assert created["hidden"] is False
    assert edition(docs, "beta") == created
    assert [e["slug"] for e in list_all(docs, f"{DOCS}/editions")] == [
        "__main",
        "beta",
    ]

    changed = patch(docs, f"{DOCS}/editions/beta", {"title": "Beta", "hidden": True})
    assert changed["title"] == "Beta"
    assert changed["hidden"] is True
    assert changed["tracking_params"] == {"git_ref": "beta"}
    assert edition(docs, "beta") == changed

    renamed = patch(docs, f"{DOCS}/editions/beta", {"slug": "preview"})
    assert renamed["slug"] == "preview"
    assert_error(docs.client.get(f"{DOCS}/editions/beta"), 404, "not_found")

    delete(docs, f"{DOCS}/editions/preview")
    assert_error(docs.client.get(f"{DOCS}/editions/preview"), 404, "not_found")
    assert [e["slug"] for e in list_all(docs, f"{DOCS}/editions")] == ["__main"]


def test_duplicate_edition_slug_is_a_conflict(docs: Keeper) -> None:
    create_edition(docs, "beta", tracking_params={"git_ref": "beta"})
    create_edition(docs, "gamma", tracking_params={"git_ref": "gamma"})

    again = docs.client.post(
        f"{DOCS}/editions",
        json={"slug": "beta", "tracking_params": {"git_ref": "other"}},
        headers=docs.auth(),
    )
    assert "beta" in assert_error(again, 409, "conflict")
    renamed = docs.client.patch(
        f"{DOCS}/editions/gamma", json={"slug": "beta"}, headers=docs.auth()
    )
    assert_error(renamed, 409, "conflict")
    assert edition(docs, "beta")["tracking_params"] == {"git_ref": "beta"}
    assert edition(docs, "gamma")["slug"] == "gamma"


@pytest.mark.parametrize("slug", ["__main", "_hidden", "-x", "a/b", "a b", ""])
def test_invalid_edition_slug_is_rejected(docs: Keeper, slug: str) -> None:
    response = docs.client.post(
        f"{DOCS}/editions",
        json={"slug": slug, "tracking_params": {"git_ref": "x"}},
        headers=docs.auth(),
    )
    assert_error(response, 422, "string_pattern_mismatch")
    assert [e["slug"] for e in list_all(docs, f"{DOCS}/editions")] == ["__main"]


def test_main_edition_cannot_be_deleted(docs: Keeper) -> None:
    response = docs.client.delete(f"{DOCS}/editions/__main", headers=docs.auth())
    assert "__main" in assert_error(response, 409, "conflict")
    assert edition(docs, "__main")["kind"] == "main"


def test_main_edition_cannot_be_renamed(docs: Keeper) -> None:
    response = docs.client.patch(
        f"{DOCS}/editions/__main", json={"slug": "latest"}, headers=docs.auth()
    )
    assert "__main" in assert_error(response, 409, "conflict")
    assert edition(docs, "__main")["slug"] == "__main"


def test_semver_minor_edition_starts_at_the_best_existing_build(
    docs: Keeper,
) -> None:
    best = publish_build(docs, "v2.3.1")
    publish_build(docs, "v2.3.0")  # newer upload, older version
    publish_build(docs, "v2.4.0")  # other minor
    publish_build(docs, "v3.3.0")  # other major
    publish_build(docs, "v2.3.2rc1")  # pre-releases never count
    register_build(docs, "v2.3.9")  # never confirmed, so not complete

    created = create_edition(
        docs,
        "stable-2-3",
        tracking_mode="semver_minor",
        tracking_params={"major": 2, "minor": 3},
    )

    assert created["build_id"] == best
    assert created["tracking_params"] == {"major": 2, "minor": 3}
    [entry] = history(docs, "stable-2-3")
    assert entry["reason"] == "tracking"
    assert entry["build_id"] == best
    assert entry["previous_build_id"] is None


def test_new_edition_without_a_matching_build_shows_nothing(docs: Keeper) -> None:
    publish_build(docs, "v1.0.0")
    created = create_edition(
        docs,
        "stable-2-3",
        tracking_mode="semver_minor",
        tracking_params={"major": "2", "minor": "3"},
    )
    assert created["build_id"] is None
    assert created["tracking_params"] == {"major": 2, "minor": 3}
    assert history(docs, "stable-2-3") == []


@pytest.mark.parametrize(
    ("mode", "params", "named"),
    [
        ("no_such_mode", {}, "no_such_mode"),
        ("git_ref", {}, "git_ref"),
        ("git_ref", {"git_ref": ""}, "git_ref"),
        ("semver_minor", {"major": 2}, "minor"),
        ("semver_minor", {"major": "two", "minor": 3}, "major"),
        ("semver_major", {"major": -1}, "major"),
        ("git_refs", {"git_refs": "main"}, "git_refs"),
    ],
)
def test_invalid_tracking_is_rejected_with_a_message(
    docs: Keeper, mode: str, params: dict[str, Any], named: str
) -> None:
    body = {"slug": "beta", "tracking_mode": mode, "tracking_params": params}
    created = docs.client.post(f"{DOCS}/editions", json=body, headers=docs.auth())
    assert named in assert_error(created, 422, "invalid")
    assert_error(docs.client.get(f"{DOCS}/editions/beta"), 404, "not_found")

    changed = docs.client.patch(
        f"{DOCS}/editions/__main",
        json={"tracking_mode": mode, "tracking_params": params},
        headers=docs.auth(),
    )
    assert named in assert_error(changed, 422, "invalid")
    main = edition(docs, "__main")
    assert (main["tracking_mode"], main["tracking_params"]) == (
        "git_ref",
        {"git_ref": "main"},
    )


def test_changing_only_the_mode_checks_the_kept_params(docs: Keeper) -> None:
    response = docs.client.patch(
        f"{DOCS}/editions/__main",
        json={"tracking_mode": "semver_major"},
        headers=docs.auth(),
    )
    assert "major" in assert_error(response, 422, "invalid")
    assert edition(docs, "__main")["tracking_mode"] == "git_ref"


def test_patching_the_build_repoints_and_records_a_manual_switch(
    docs: Keeper,
) -> None:
    first = publish_build(docs, "main")
    second = publish_build(docs, "feature")
    create_edition(docs, "pinned", tracking_mode="manual", build=first)

    changed = patch(docs, f"{DOCS}/editions/pinned", {"build": second})

    assert changed["build_id"] == second
    assert edition(docs, "pinned")["build_id"] == second
    assert [
        (h["reason"], h["previous_build_id"], h["build_id"])
        for h in history(docs, "pinned")
    ] == [("manual", None, first), ("manual", first, second)]
    assert history(docs, "pinned")[-1]["actor"] == "bootstrap"


def test_patching_to_an_unknown_or_incomplete_build_leaves_the_edition(
    docs: Keeper,
) -> None:
    shown = publish_build(docs, "main")
    pending = register_build(docs, "main")["id"]

    unknown = docs.client.patch(
        f"{DOCS}/editions/__main", json={"build": "nosuchbuild"}, headers=docs.auth()
    )
    assert "nosuchbuild" in assert_error(unknown, 404, "not_found")
    incomplete = docs.client.patch(
        f"{DOCS}/editions/__main", json={"build": pending}, headers=docs.auth()
    )
    assert "pending" in assert_error(incomplete, 409, "conflict")
    assert edition(docs, "__main")["build_id"] == shown
    assert len(history(docs, "__main")) == 1


def test_rollback_to_an_earlier_build(docs: Keeper) -> None:
    first = publish_build(docs, "main")
    second = publish_build(docs, "main")
    assert edition(docs, "__main")["build_id"] == second

    rolled = post(
        docs, f"{DOCS}/editions/__main/rollback", {"build": first}, status=200
    )

    assert rolled["build_id"] == first
    assert edition(docs, "__main")["build_id"] == first
    assert [
        (h["reason"], h["previous_build_id"], h["build_id"])
        for h in history(docs, "__main")
    ] == [
        ("tracking", None, first),
        ("tracking", first, second),
        ("rollback", second, first),
    ]


def test_rollback_to_an_unknown_build_is_not_found(docs: Keeper) -> None:
    shown = publish_build(docs, "main")
    response = docs.client.post(
        f"{DOCS}/editions/__main/rollback",
        json={"build": "nosuchbuild"},
        headers=docs.auth(),
    )
    assert "nosuchbuild" in assert_error(response, 404, "not_found")
    assert edition(docs, "__main")["build_id"] == shown
    assert len(history(docs, "__main")) == 1


def test_rollback_to_a_build_of_another_product_is_not_found(docs: Keeper) -> None:
    create_product(docs, ORG, "guide")
    foreign = publish_build(docs, "main", product_url=f"{PRODUCTS}/guide")
    response = docs.client.post(
        f"{DOCS}/editions/__main/rollback", json={"build": foreign}, headers=docs.auth()
    )
    assert_error(response, 404, "not_found")
    assert edition(docs, "__main")["build_id"] is None


# -- builds ----------------------------------------------------------------------


def test_build_round_trip(docs: Keeper) -> None:
    registered = register_build(docs, "main")
    assert registered["status"] == "pending"
    assert registered["git_ref"] == "main"
    assert registered["file_count"] == 2
    assert {u["path"] for u in registered["uploads"]} == {"index.html", "main.html"}

    shown = get(docs, f"{DOCS}/builds/{registered['id']}")
    assert shown["status"] == "pending"
    assert "uploads" not in shown

    delete(docs, f"{DOCS}/builds/{registered['id']}")
    assert_error(docs.client.get(f"{DOCS}/builds/{registered['id']}"), 404, "not_found")
    assert list_all(docs, f"{DOCS}/builds") == []


def test_a_build_an_edition_shows_cannot_be_deleted(docs: Keeper) -> None:
    shown = publish_build(docs, "main")
    response = docs.client.delete(f"{DOCS}/builds/{shown}", headers=docs.auth())
    assert "__main" in assert_error(response, 409, "conflict")
    assert get(docs, f"{DOCS}/builds/{shown}")["status"] == "complete"

    # Once no edition shows it any more, it can go; history keeps its id.
    newer = publish_build(docs, "main")
    delete(docs, f"{DOCS}/builds/{shown}")
    assert_error(docs.client.get(f"{DOCS}/builds/{shown}"), 404, "not_found")
    assert history(docs, "__main")[-1]["previous_build_id"] == shown
    assert edition(docs, "__main")["build_id"] == newer


# -- pagination ------------------------------------------------------------------


def test_paging_through_products_with_the_link_header(keeper: Keeper) -> None:
    create_org(keeper, ORG)
    slugs = [f"product-{i}" for i in range(7)]
    for slug in slugs:
        create_product(keeper, ORG, slug)

    pages = []
    url: str | None = f"{PRODUCTS}?limit=3"
    while url is not None:
        response = keeper.client.get(url)
        pages.append([p["slug"] for p in ok(response)])
        url = response.links.get("next", {}).get("url")
        assert len(pages) <= 3, "the Link header must stop after the last page"

    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(slug for page in pages for slug in page) == slugs


def test_a_full_last_page_has_no_next_link(docs: Keeper) -> None:
    create_product(docs, ORG, "guide")
    first = docs.client.get(f"{PRODUCTS}?limit=1")
    assert len(ok(first)) == 1
    second = docs.client.get(first.links["next"]["url"])
    assert len(ok(second)) == 1
    assert "next" not in second.links
    assert "link" not in second.headers
    assert {p["slug"] for p in first.json() + second.json()} == {PRODUCT, "guide"}


def test_builds_are_listed_newest_first_across_pages(docs: Keeper) -> None:
    ids = [register_build(docs, f"branch-{i}")["id"] for i in range(5)]
    response = docs.client.get(f"{DOCS}/builds?limit=2")
    assert [b["id"] for b in ok(response)] == ids[::-1][:2]
    assert [b["id"] for b in list_all(docs, f"{DOCS}/builds?limit=2")] == ids[::-1]


@pytest.mark.parametrize(
    ("limit", "error_type"),
    [
        ("0", "greater_than_equal"),
        ("-1", "greater_than_equal"),
        ("many", "int_parsing"),
    ],
)
def test_a_page_size_out_of_range_is_rejected(
    docs: Keeper, limit: str, error_type: str
) -> None:
    response = docs.client.get(f"{PRODUCTS}?limit={limit}")
    assert_error(response, 422, error_type)


def test_a_page_larger_than_the_maximum_gets_the_maximum(docs: Keeper) -> None:
    for n in range(3):
        create_product(docs, ORG, f"p{n}")
    settings = docs.client.app.state.runtime.settings
    settings.max_page_size = 2
    try:
        response = docs.client.get(f"{PRODUCTS}?limit=1000")
        assert len(ok(response)) == 2
        assert "next" in response.links
    finally:
        settings.max_page_size = 100


def test_the_largest_page_size_is_accepted(docs: Keeper) -> None:
    assert [p["slug"] for p in ok(docs.client.get(f"{PRODUCTS}?limit=100"))] == [
        PRODUCT
    ]
