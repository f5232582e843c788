"""The quick start's demo, end to end: `keeper demo` publishes the example
docs (themed with ``ltd``) as 1.0 and 2.0, and a reader in Chromium finds
their way between the versions with the switcher, the banner and the
dashboard."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoSite, Shoot, running_demo, tool

#: The default edition's name in switcher.json (its title in keeper/demo.py).
LATEST = "Latest"


def test_quick_start_serves_the_site_and_switcher_files(demo: DemoSite) -> None:
    """What `bash scripts/demo` promises, over plain HTTP: the site, the
    dashboard and both switcher files."""
    with demo.site_client() as site:
        home = site.get("/")
        assert home.status_code == 200
        assert "Lanternfish 2.0" in home.text

        dashboard = site.get("/v/")
        assert dashboard.status_code == 200
        assert '<meta name="ltd-page" content="editions">' in dashboard.text

        switcher = site.get("/v/switcher.json")
        assert switcher.status_code == 200
        entries = switcher.json()
        assert len(entries) >= 2
        preferred = [e for e in entries if e.get("preferred") is True]
        assert len(preferred) == 1
        assert preferred[0]["version"] == "__main"
        assert preferred[0]["name"] == LATEST
        assert {e["version"] for e in entries} >= {"__main", "1.0", "1"}

        versions = site.get("/v/versions.json")
        assert versions.status_code == 200
        mike = {v["version"]: v for v in versions.json()}
        assert set(mike) >= {"__main", "1.0", "1"}
        assert mike["__main"]["title"] == LATEST
        for entry in mike.values():
            assert set(entry) >= {"version", "title", "aliases", "properties"}


def test_quick_start_runs_again_in_the_same_folder(tmp_path: Path) -> None:
    """A second run finds the org and product it made the first time and
    publishes again; the site still shows both versions."""
    for run in (1, 2):
        with running_demo(tmp_path) as again, again.site_client() as site:
            versions = {e["version"] for e in site.get("/v/switcher.json").json()}
            assert versions >= {"__main", "1.0", "1"}, f"run {run}"
            builds = site.get("/builds/").text.count("data-build=")
            assert builds == 2 * run, f"run {run} shows {builds} builds"


def test_quick_start_refuses_a_busy_port(demo: DemoSite, tmp_path: Path) -> None:
    done = subprocess.run(
        [tool("keeper"), "demo", "--port", str(demo.port), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"127.0.0.1:{demo.port}" in done.stderr
    assert "--port" in done.stderr


def test_home_has_no_banner_and_names_the_default_edition(
    demo: DemoSite, page: Page, shoot: Shoot
) -> None:
    page.goto(demo.url("/"))
    # pydata sets this once it has read switcher.json and found this page's
    # entry, which is also when the theme has decided about the banner.
    button = page.locator("#pst-version-switcher-button")
    expect(button).to_have_attribute("data-active-version-name", LATEST)
    expect(button).to_have_text(LATEST)
    expect(page.locator("html")).to_have_attribute("data-ltd-edition", "__main")
    # The theme reads switcher.json with a request of its own: let it answer
    # before checking that no banner came of it.
    page.wait_for_load_state("networkidle")
    expect(page.locator("#ltd-version-banner")).to_be_hidden()
    expect(page.locator("#ltd-all-versions")).to_have_attribute("href", demo.url("/v/"))
    shoot("home")


def test_switching_to_1_0_from_the_menu_keeps_the_page(
    demo: DemoSite, page: Page, shoot: Shoot
) -> None:
    page.goto(demo.url("/install.html"))
    button = page.locator("#pst-version-switcher-button")
    expect(button).to_have_attribute("data-active-version-name", LATEST)
    button.click()
    menu = page.locator("#pst-version-switcher-list")
    expect(menu).to_be_visible()
    entries = menu.locator("a.dropdown-item")
    expect(entries).to_have_text([LATEST, "1.0", "1"])
    expect(menu.locator("a.dropdown-item.active")).to_have_text(LATEST)
    shoot("menu-open")

    entries.filter(has_text=re.compile(r"^1\.0$")).click()
    expect(page).to_have_url(demo.url("/v/1.0/install.html"))
    expect(page.locator("html")).to_have_attribute("data-ltd-edition", "1.0")
    expect(button).to_have_text("1.0")
    banner = page.locator("#ltd-version-banner")
    expect(banner).to_be_visible()
    expect(page.locator("#ltd-version-banner-message")).to_have_text(
        f"You are reading version 1.0; the current version is {LATEST}."
    )
    shoot("on-1.0-with-banner")


def test_banner_leads_back_to_the_same_page_or_the_root(
    demo: DemoSite, page: Page, shoot: Shoot
) -> None:
    # install.html is in both versions: the banner leads to it.
    page.goto(demo.url("/v/1.0/install.html"))
    banner = page.locator("#ltd-version-banner")
    expect(banner).to_have_attribute("data-ltd-link", "page")
    link = page.locator("#ltd-version-banner-link")
    expect(link).to_have_attribute("href", demo.url("/install.html"))
    shoot("banner-to-page")
    link.click()
    expect(page).to_have_url(demo.url("/install.html"))
    expect(page.locator("#pst-version-switcher-button")).to_have_attribute(
        "data-active-version-name", LATEST
    )
    page.wait_for_load_state("networkidle")
    expect(banner).to_be_hidden()
    shoot("back-on-latest")

    # legacy-ingest.html exists only in 1.x: the banner leads to the root.
    page.goto(demo.url("/v/1.0/topics/legacy-ingest.html"))
    expect(banner).to_have_attribute("data-ltd-link", "root")
    expect(link).to_have_attribute("href", demo.url("/"))
    shoot("banner-to-root")
    link.click()
    expect(page).to_have_url(demo.url("/"))
    expect(page.locator("html")).to_have_attribute("data-ltd-edition", "__main")
    shoot("back-on-root")


def test_all_versions_link_opens_the_dashboard(
    demo: DemoSite, page: Page, shoot: Shoot
) -> None:
    page.goto(demo.url("/v/1.0/install.html"))
    all_versions = page.locator("#ltd-all-versions")
    expect(all_versions).to_have_attribute("href", demo.url("/v/"))
    all_versions.click()
    expect(page).to_have_url(demo.url("/v/"))
    expect(page.locator('meta[name="ltd-page"]')).to_have_attribute(
        "content", "editions"
    )
    rows = page.locator("tr[data-edition]")
    expect(rows).to_have_count(3)
    slugs = [row.get_attribute("data-edition") for row in rows.all()]
    assert slugs == ["__main", "1.0", "1"]
    expect(rows.first.get_by_role("link", name=LATEST)).to_have_attribute("href", "/")
    shoot("dashboard")
