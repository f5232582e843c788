"""A project that only says ``html_theme = "ltd"`` builds offline and gets the hooks."""

from __future__ import annotations

import re
import socket
import urllib.request
from pathlib import Path

import pytest

from tests.theme.conftest import (
    NetworkAttempts,
    Tag,
    by_id,
    network_off,
    sphinx_build,
    tags,
    write_project,
)

EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def script_index(page: list[Tag], fragment: str) -> int:
    scripts = [tag for tag in page if tag.name == "script"]
    matches = [i for i, tag in enumerate(scripts) if fragment in (tag.get("src") or "")]
    assert len(matches) == 1, f"expected one <script> loading {fragment}"
    return matches[0]


def test_the_network_really_is_off(offline: NetworkAttempts) -> None:
    with pytest.raises(OSError):
        urllib.request.urlopen("http://example.org/", timeout=5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9), timeout=5)
    assert offline.attempts


@pytest.fixture(scope="module")
def minimal_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("minimal")
    source = write_project(root / "src", 'html_theme = "ltd"\n')
    out = root / "html"
    with network_off() as record:
        sphinx_build(source, out)
    assert record.attempts == []
    return out


def test_conf_with_only_the_theme_builds(minimal_site: Path) -> None:
    assert (minimal_site / "index.html").is_file()
    assert (minimal_site / "guide.html").is_file()
    assert (minimal_site / "_static" / "ltd-theme.js").is_file()
    assert (minimal_site / "_static" / "ltd-theme.css").is_file()


def test_page_has_the_switcher_the_dashboard_link_and_the_banner(
    minimal_site: Path,
) -> None:
    page = tags(minimal_site / "guide.html")

    button = by_id(page, "pst-version-switcher-button")
    assert "version-switcher__button" in button.classes
    by_id(page, "pst-version-switcher-list")

    dashboard = by_id(page, "ltd-all-versions")
    assert dashboard.name == "a"
    assert "ltd-all-versions" in dashboard.classes
    # Right for the default edition even before the script corrects it.
    assert dashboard.get("href") == "./v/"

    banner = by_id(page, "ltd-version-banner")
    assert "hidden" in banner.attrs
    assert banner.get("aria-label")
    by_id(page, "ltd-version-banner-message")

    # The mobile sidebar repeats the navbar items under ids of their own.
    by_id(page, "ltd-all-versions-2")
    by_id(page, "pst-version-switcher-button-2")


def test_theme_script_runs_between_sphinx_options_and_pydata(
    minimal_site: Path,
) -> None:
    page = tags(minimal_site / "guide.html")
    ours = script_index(page, "_static/ltd-theme.js")
    # It writes into DOCUMENTATION_OPTIONS, so after Sphinx defines it ...
    assert script_index(page, "_static/documentation_options.js") < ours
    # ... and before pydata-sphinx-theme reads the switcher settings from it.
    assert ours < script_index(page, "_static/scripts/pydata-sphinx-theme.js")
    ltd_script = [t for t in page if "ltd-theme.js" in (t.get("src") or "")][0]
    assert "defer" not in ltd_script.attrs and "async" not in ltd_script.attrs
    assert "data-ltd-keep-canonical" not in ltd_script.attrs


def test_no_switcher_url_or_canonical_is_baked_into_the_html(
    minimal_site: Path,
) -> None:
    html = (minimal_site / "guide.html").read_text()
    page = tags(minimal_site / "guide.html")
    # Both depend on where the build is served: only the browser knows.
    assert "theme_switcher_json_url" not in html
    assert not [t for t in page if t.name == "link" and t.get("rel") == "canonical"]
    script = (minimal_site / "_static" / "ltd-theme.js").read_text()
    assert "v/switcher.json" in script
    assert "DOCUMENTATION_OPTIONS.theme_switcher_json_url" in script
    assert "DOCUMENTATION_OPTIONS.theme_switcher_version_match" in script


def test_no_external_assets(minimal_site: Path) -> None:
    pages = sorted(minimal_site.glob("*.html"))
    assert len(pages) >= 4  # index, guide, genindex, search
    for html_file in pages:
        for tag in tags(html_file):
            url = None
            if tag.name == "script":
                url = tag.get("src")
            elif tag.name == "link":
                url = tag.get("href")
            assert not (url and EXTERNAL.match(url)), f"{html_file.name}: {tag}"
    for stylesheet in (minimal_site / "_static").rglob("*.css"):
        text = stylesheet.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text), stylesheet
        assert not re.search(r"@import\s+(?:url\()?\s*['\"]?(?:https?:)?//", text), (
            stylesheet
        )


def test_a_configured_switcher_is_not_fetched_at_build_time(
    tmp_path: Path, offline: NetworkAttempts
) -> None:
    # pydata-sphinx-theme would GET this URL during the build (and, offline,
    # warn, which -W turns into a failure) unless the theme turns the check off.
    conf = (
        'html_theme = "ltd"\n'
        "html_theme_options = {\n"
        '    "switcher": {\n'
        '        "json_url": "https://docs.example.org/v/switcher.json",\n'
        '        "version_match": "2.0",\n'
        "    },\n"
        "}\n"
    )
    source = write_project(tmp_path / "src", conf)
    sphinx_build(source, tmp_path / "html")
    assert offline.attempts == []
    # pydata still writes its inline switcher settings; the theme's script
    # comes after them, so the URL worked out in the browser is the one used.
    html = (tmp_path / "html" / "index.html").read_text()
    assert html.index("theme_switcher_json_url") < html.index("_static/ltd-theme.js")


def test_listed_as_an_extension_under_another_theme_it_adds_nothing(
    tmp_path: Path, offline: NetworkAttempts
) -> None:
    conf = 'extensions = ["ltd_sphinx_theme"]\nhtml_theme = "alabaster"\n'
    source = write_project(tmp_path / "src", conf)
    sphinx_build(source, tmp_path / "html")
    assert "ltd-theme.js" not in (tmp_path / "html" / "index.html").read_text()
