"""The bytes of a product's generated pages, rendered from a listing."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from jinja2 import UndefinedError
from jinja2.sandbox import SecurityError

from keeper.db import MAIN_EDITION
from keeper.pages.listing import BuildEntry, EditionEntry, Listing
from keeper.pages.render import (
    PAGES,
    TEMPLATES,
    platform_not_found,
    render_pages,
    switcher_entries,
    versions_entries,
)
from tests.pages.conftest import Html

WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
EVIL = '<script>alert("x")</script>'


def edition(
    slug: str,
    group: str,
    *,
    title: str | None = None,
    build: str = "b1",
    source_url: str | None = None,
    updated: datetime = WHEN,
) -> EditionEntry:
    default = group == "default"
    return EditionEntry(
        slug=slug,
        title=title or slug,
        kind={"default": "main", "release": "minor", "draft": "draft"}[group],
        url="/" if default else f"/v/{slug}/",
        build=build,
        git_ref="main" if default else f"ref-{slug}",
        updated=updated,
        source_url=source_url,
        is_default=default,
        group=group,
    )


def build(public_id: str, editions: tuple[str, ...] = ()) -> BuildEntry:
    return BuildEntry(
        public_id=public_id,
        url=f"/builds/{public_id}/",
        git_ref=f"ref-{public_id}",
        created=WHEN,
        completed=WHEN + timedelta(minutes=1),
        file_count=3,
        total_size=12_345,
        editions=editions,
        source_url=None,
        run_url="https://ci.example.org/run/9",
        pr_number=12,
    )


def make_listing(root: str = "", **changes: object) -> Listing:
    found = Listing(
        org="lsst",
        org_title="LSST",
        product="pipelines",
        product_title="Pipelines",
        root=root,
        editions=(
            edition(
                MAIN_EDITION,
                "default",
                title="Latest",
                source_url="https://github.com/lsst/pipelines/tree/abc",
            ),
            edition("2.0", "release", build="b2"),
            edition("1.9", "release", build="b3"),
            edition("DM-1", "draft", build="b4"),
        ),
        builds=(
            build("b4", ("DM-1",)),
            build("b3", ("1.9",)),
            build("b2", ("2.0",)),
            build("b1", (MAIN_EDITION,)),
            build("b0"),
        ),
        builds_total=5,
    )
    return replace(found, **changes)  # type: ignore[arg-type]


# -- switcher files -----------------------------------------------------------


def test_switcher_json_in_pydata_sphinx_themes_format() -> None:
    pages = render_pages(make_listing())
    assert set(pages) == set(PAGES)
    entries = json.loads(pages["v/switcher.json"])
    assert entries == [
        {"name": "Latest", "version": MAIN_EDITION, "url": "/", "preferred": True},
        {"name": "2.0", "version": "2.0", "url": "/v/2.0/"},
        {"name": "1.9", "version": "1.9", "url": "/v/1.9/"},
        {"name": "DM-1", "version": "DM-1", "url": "/v/DM-1/"},
    ]


def test_switcher_urls_carry_the_path_layout_root() -> None:
    entries = switcher_entries(make_listing(root="/pipelines"))
    assert [e["url"] for e in entries] == [
        "/pipelines/",
        "/pipelines/v/2.0/",
        "/pipelines/v/1.9/",
        "/pipelines/v/DM-1/",
    ]


def test_only_the_default_edition_is_preferred() -> None:
    entries = switcher_entries(make_listing())
    assert [e.get("preferred", False) for e in entries] == [True, False, False, False]
    # Without a default edition nothing is preferred.
    no_default = make_listing(editions=make_listing().editions[1:])
    assert not any("preferred" in e for e in switcher_entries(no_default))


def test_versions_json_in_mikes_format() -> None:
    pages = render_pages(make_listing())
    entries = json.loads(pages["v/versions.json"])
    assert [e["version"] for e in entries] == [MAIN_EDITION, "2.0", "1.9", "DM-1"]
    for e in entries:
        assert set(e) == {"version", "title", "aliases", "properties"}
        assert e["aliases"] == []
    assert entries[0]["title"] == "Latest"
    assert entries[0]["properties"]["default"] is True
    assert entries[1]["properties"] == {
        "default": False,
        "kind": "minor",
        "git_ref": "ref-2.0",
        "build": "b2",
        "updated": "2026-03-01T12:30:00+00:00",
    }


def test_versions_json_gives_times_in_utc() -> None:
    east = timezone(timedelta(hours=5))
    found = make_listing(
        editions=(
            edition("x", "draft", updated=datetime(2026, 3, 1, 17, 30, tzinfo=east)),
        )
    )
    (entry,) = versions_entries(found)
    assert entry["properties"]["updated"] == "2026-03-01T12:30:00+00:00"


def test_switcher_files_keep_titles_as_written() -> None:
    found = make_listing(editions=(edition("x", "draft", title=f"Ünïcode {EVIL}"),))
    pages = render_pages(found)
    assert json.loads(pages["v/switcher.json"])[0]["name"] == f"Ünïcode {EVIL}"
    assert json.loads(pages["v/versions.json"])[0]["title"] == f"Ünïcode {EVIL}"


def test_nothing_published_gives_empty_switchers() -> None:
    pages = render_pages(make_listing(editions=(), builds=(), builds_total=0))
    assert json.loads(pages["v/switcher.json"]) == []
    assert json.loads(pages["v/versions.json"]) == []
    assert "Nothing has been published yet" in pages["v/index.html"].decode()
    assert "No build has been published yet" in pages["builds/index.html"].decode()


# -- HTML pages -----------------------------------------------------------------


def _html(page: str, found: Listing | None = None) -> str:
    return render_pages(found or make_listing())[page].decode()


def test_the_dashboard_lists_every_edition_with_its_details() -> None:
    page = Html(_html("v/index.html"))
    assert page.meta("ltd-page") == "editions"
    assert page.meta("robots") is None  # the dashboard may be indexed
    assert page.rows("edition") == [MAIN_EDITION, "2.0", "1.9", "DM-1"]
    hrefs = page.hrefs()
    for url in ("/", "/v/2.0/", "/v/1.9/", "/v/DM-1/"):
        assert url in hrefs
    for build_id in ("b1", "b2", "b3", "b4"):
        assert f"/builds/{build_id}/" in hrefs
    assert "https://github.com/lsst/pipelines/tree/abc" in hrefs
    times = page.find("time")
    assert times and all(t["datetime"] == "2026-03-01T12:30:00+00:00" for t in times)
    text = page.all_text()
    assert "Latest" in text and "ref-2.0" in text and "2026-03-01 12:30 UTC" in text
    assert [h for h in ("Current version", "Releases", "Drafts") if h in text] == [
        "Current version",
        "Releases",
        "Drafts",
    ]


def test_the_dashboard_leaves_out_empty_groups() -> None:
    found = make_listing(editions=make_listing().editions[:1])
    text = Html(_html("v/index.html", found)).all_text()
    assert "Current version" in text
    assert "Releases" not in text and "Drafts" not in text


def test_links_carry_the_path_layout_root() -> None:
    for name in ("v/index.html", "builds/index.html"):
        hrefs = Html(_html(name, make_listing(root="/pipelines"))).hrefs()
        local = [h for h in hrefs if h.startswith("/")]
        assert local, name
        assert all(h.startswith("/pipelines/") for h in local), (name, local)
        assert "/pipelines/v/" in hrefs and "/pipelines/builds/" in hrefs


def test_the_build_list_is_never_indexed_and_shows_every_build() -> None:
    page = Html(_html("builds/index.html"))
    assert page.meta("ltd-page") == "builds"
    assert page.meta("robots") == "noindex"
    assert page.rows("build") == ["b4", "b3", "b2", "b1", "b0"]
    hrefs = page.hrefs()
    for build_id in ("b4", "b3", "b2", "b1", "b0"):
        assert f"/builds/{build_id}/" in hrefs
    # Builds link to the editions that show them, and to their CI run.
    assert "/v/DM-1/" in hrefs and "/" in hrefs
    assert "https://ci.example.org/run/9" in hrefs
    text = page.all_text()
    assert "PR #12" in text and "12.3 kB" in text and "no edition" in text
    assert "5 builds, newest first." in text


def test_the_build_list_says_when_it_shows_only_the_newest() -> None:
    text = Html(_html("builds/index.html", make_listing(builds_total=900))).all_text()
    assert "The newest 5 of 900 builds." in text


@pytest.mark.parametrize("name", ["v/index.html", "builds/index.html"])
def test_titles_are_escaped(name: str) -> None:
    found = make_listing(
        product_title=EVIL,
        org_title=EVIL,
        editions=(edition(MAIN_EDITION, "default", title=EVIL),),
        builds=(replace(build("b1"), git_ref=EVIL),),
    )
    html = _html(name, found)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert Html(html).find("script") == []


@pytest.mark.parametrize("name", ["v/index.html", "builds/index.html"])
def test_pages_are_accessible_and_self_contained(name: str) -> None:
    html = _html(name)
    page = Html(html)
    assert page.find("html")[0].get("lang") == "en"
    assert len(page.find("main")) == 1
    assert page.find("title") and page.find("h1")
    headers = page.find("th")
    assert headers and all(th.get("scope") == "col" for th in headers)
    # Nothing is loaded from elsewhere: the style is inline, no scripts.
    for tag, attr in (("link", "href"), ("script", "src"), ("img", "src")):
        for found in page.find(tag):
            assert not re.match(r"(https?:)?//", found.get(attr, "")), found
    assert page.find("script") == []
    assert "@import" not in html and "url(" not in html


def test_the_platform_404_page_links_to_the_dashboard() -> None:
    html = platform_not_found(EVIL, "/pipelines", org_title="LSST")
    page = Html(html)
    assert "/pipelines/v/" in page.hrefs() and "/pipelines/" in page.hrefs()
    assert page.meta("robots") == "noindex"
    assert page.meta("ltd-page") == "platform-404"
    assert "<script" not in html


# -- org templates ----------------------------------------------------------------


def test_an_org_template_replaces_keepers_own() -> None:
    overrides = {
        "editions.html": (
            '{% extends "base.html" %}{% block content %}'
            "{% for e in editions %}<p class=mine>{{ e.title }}</p>{% endfor %}"
            "{% endblock %}"
        )
    }
    pages = render_pages(make_listing(), overrides)
    html = pages["v/index.html"].decode()
    assert html.count("<p class=mine>") == 4
    # The shared layout and the other pages stay keeper's.
    assert 'lang="en"' in html
    assert (
        pages["builds/index.html"] == render_pages(make_listing())["builds/index.html"]
    )


def test_an_org_base_template_is_used_by_every_page() -> None:
    overrides = {"base.html": "<div id=org>{% block content %}{% endblock %}</div>"}
    pages = render_pages(make_listing(), overrides)
    for name in ("v/index.html", "builds/index.html"):
        assert pages[name].startswith(b"<div id=org>"), name
    html = platform_not_found("P", "", overrides=overrides)
    assert html.startswith("<div id=org>")


def test_org_templates_autoescape() -> None:
    overrides = {"editions.html": "{% for e in editions %}{{ e.title }}{% endfor %}"}
    found = make_listing(editions=(edition("x", "draft", title=EVIL),))
    html = render_pages(found, overrides)["v/index.html"].decode()
    assert html == "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ timestamp.__globals__ }}",
        "{{ editions.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_org_templates_cannot_reach_python(source: str) -> None:
    """The sandbox refuses the access, or renders it as nothing."""
    try:
        html = render_pages(make_listing(), {"editions.html": source})["v/index.html"]
    except SecurityError:
        return
    assert html == b""


def test_every_template_an_org_may_replace_exists() -> None:
    assert set(TEMPLATES) == {"base.html", "editions.html", "builds.html", "404.html"}
    for name in TEMPLATES:
        # An empty override of each renders (nothing breaks for lack of it).
        render_pages(make_listing(), {name: "x"})


def test_a_failing_org_404_page_gives_way_to_keepers_own() -> None:
    failing = {"404.html": "{{ nothing.at_all }}"}
    html = platform_not_found("Pipelines", "/pipelines", overrides=failing)
    assert html == platform_not_found("Pipelines", "/pipelines")
    # Checking a template before it is stored must see the failure.
    with pytest.raises(UndefinedError):
        platform_not_found("Pipelines", "", overrides=failing, strict=True)
