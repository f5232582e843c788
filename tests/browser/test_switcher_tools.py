"""The switcher files work with the tools they are written for.

Two real sites from PyPI packages, neither using the platform's own theme,
are published to the running demo as products of their own, exactly as a
team's CI would (an uploader token, ``ltd upload`` at ``v1.0.0`` and then at
``main``), and read in Chromium:

- pydata-sphinx-theme, whose version menu reads ``/v/switcher.json``;
- MkDocs Material with mike's provider, whose version selector reads
  ``../versions.json`` beside the site, i.e. ``/v/versions.json``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from keeper.demo import ltd_upload
from tests.browser.conftest import ORG, DemoSite, Shoot, tool

SITES = Path(__file__).parent / "sites"
PYDATA = "plain-pydata"
MATERIAL = "plain-material"
#: (docs version, git ref): 1.0 becomes editions ``1.0`` and ``1``, 2.0 the
#: default edition ``__main``, which both sites' switchers call "Latest".
VERSIONS = (("1.0", "v1.0.0"), ("2.0", "main"))
EDITION_FOR = {"v1.0.0": "1.0", "main": "__main"}
NAMES = ["Latest", "1.0", "1"]
#: Builds one version of a site into a folder under the first argument
#: (version, git ref) and returns the folder of HTML to upload.
Builder = Callable[[Path, str, str], Path]


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{what} failed:\n{done.stdout}\n{done.stderr}"


def _build_pydata(out: Path, version: str, git_ref: str) -> Path:
    html = out / "html"
    env = {
        **os.environ,
        "DOCS_VERSION": version,
        "DOCS_EDITION": EDITION_FOR[git_ref],
    }
    _run(
        [
            tool("sphinx-build"),
            "-q",
            "-b",
            "html",
            "-d",
            str(out / "doctrees"),
            str(SITES / "pydata"),
            str(html),
        ],
        env,
        f"sphinx-build of the pydata site {version}",
    )
    return html


def _build_material(out: Path, version: str, git_ref: str) -> Path:
    html = out / "html"
    env = {
        **os.environ,
        "DOCS_TITLE": f"Plain Material {version}",
        # Material 9.7+ prints a notice about MkDocs 2.0 on every build.
        "NO_MKDOCS_2_WARNING": "1",
    }
    _run(
        [
            tool("mkdocs"),
            "build",
            "-q",
            "-f",
            str(SITES / "material" / "mkdocs.yml"),
            "-d",
            str(html),
        ],
        env,
        f"mkdocs build of the Material site {version}",
    )
    return html


def _publish(demo: DemoSite, product: str, build: Builder, workdir: Path) -> None:
    """Create ``product`` (unless this worker already did) and upload both
    versions with the real ``ltd upload``."""
    with demo.admin_client() as admin:
        found = admin.get(f"/api/orgs/{ORG}/products/{product}")
        if found.status_code == 200:
            return
        assert found.status_code == 404, found.text
        created = admin.post(
            f"/api/orgs/{ORG}/products",
            json={"slug": product, "title": product.replace("-", " ").title()},
        )
        assert created.status_code == 201, created.text
        token = admin.post(
            f"/api/orgs/{ORG}/tokens",
            json={"role": "uploader", "name": f"{product} CI"},
        )
        assert token.status_code in (200, 201), token.text
        uploader = token.json()["token"]
    for version, git_ref in VERSIONS:
        html = build(workdir / product / version, version, git_ref)
        ltd_upload(demo.api, uploader, product, html, git_ref)


@pytest.fixture(scope="session")
def pydata_site(demo: DemoSite) -> Iterator[DemoSite]:
    _publish(demo, PYDATA, _build_pydata, demo.workdir / "sites")
    yield demo


@pytest.fixture(scope="session")
def material_site(demo: DemoSite) -> Iterator[DemoSite]:
    _publish(demo, MATERIAL, _build_material, demo.workdir / "sites")
    yield demo


def _switcher_names(demo: DemoSite, product: str) -> list[str]:
    with demo.site_client(product) as site:
        response = site.get("/v/switcher.json")
    assert response.status_code == 200, response.text
    return [entry["name"] for entry in response.json()]


def test_pydata_sphinx_theme_lists_the_editions(
    pydata_site: DemoSite, page: Page, shoot: Shoot
) -> None:
    """pydata-sphinx-theme's own switcher, configured as its docs say with a
    root-relative ``json_url``, lists what the platform published and moves
    between editions on the same page."""
    demo = pydata_site
    assert _switcher_names(demo, PYDATA) == NAMES

    page.goto(demo.url("/v/1.0/install.html", PYDATA))
    button = page.locator(".version-switcher__button").first
    # version_match is fixed at build time: this build says "1.0". (The same
    # build is also served as edition "1", where pydata still highlights
    # "1.0"; the ltd theme works the edition out from the URL instead.)
    expect(button).to_have_attribute("data-active-version-name", "1.0")
    button.click()
    entries = page.locator(".version-switcher__menu").first.locator("a.dropdown-item")
    expect(entries).to_have_text(NAMES)
    expect(entries.filter(has_text=re.compile(r"^1\.0$"))).to_have_class(
        re.compile(r"\bactive\b")
    )
    shoot("menu-on-1.0")

    entries.filter(has_text="Latest").click()
    expect(page).to_have_url(demo.url("/install.html", PYDATA))
    expect(button).to_have_attribute("data-active-version-name", "Latest")
    shoot("on-latest")


# Material looks for versions.json one level above the site's base: from
# /v/1.0/ that is /v/versions.json, which the platform writes. The default
# edition is also served at the site root, and from there Material would ask
# for /versions.json, which does not exist, and shows no selector: mike
# itself never serves a version at the root (it redirects the root to the
# default version's folder). So the selector is checked where Material finds
# the file: a release edition and the default edition under its own name,
# /v/__main/, which is where Material's own links to "Latest" lead.
@pytest.mark.parametrize(
    ("path", "current"),
    [("/v/1.0/", "1.0"), ("/v/__main/", "Latest")],
    ids=["1.0", "__main"],
)
def test_mkdocs_material_lists_the_editions(
    material_site: DemoSite, page: Page, shoot: Shoot, path: str, current: str
) -> None:
    demo = material_site
    page.goto(demo.url(path, MATERIAL))
    selector = page.locator(".md-version")
    expect(selector.locator(".md-version__current")).to_have_text(current)
    links = selector.locator(".md-version__link")
    expect(links).to_have_text(NAMES)
    hrefs = [link.get_attribute("href") for link in links.all()]
    slugs = ["__main", "1.0", "1"]
    assert hrefs == [demo.url(f"/v/{slug}/", MATERIAL) for slug in slugs]
    # The list opens on hover, which is what the screenshot should show.
    selector.hover()
    expect(selector.locator(".md-version__list")).to_have_css("opacity", "1")
    shoot("selector-open")
