"""The example project builds as two versions with a page of each version's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.theme.conftest import network_off, sphinx_build, tags

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sphinx"
SHARED_PAGES = [
    "index.html",
    "install.html",
    "quickstart.html",
    "configuration.html",
    "changelog.html",
    "topics/catalogues.html",
]


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("example")
    built = {}
    with network_off() as record, pytest.MonkeyPatch.context() as patch:
        for version in ("1.0", "2.0"):
            patch.setenv("EXAMPLE_DOCS_VERSION", version)
            built[version] = root / version
            sphinx_build(EXAMPLE, built[version])
    assert record.attempts == []
    return built


def links(html_file: Path) -> set[str]:
    return {tag.get("href") or "" for tag in tags(html_file) if tag.name == "a"}


def test_each_version_has_its_own_page(two_versions: dict[str, Path]) -> None:
    v1, v2 = two_versions["1.0"], two_versions["2.0"]
    assert (v1 / "topics" / "legacy-ingest.html").is_file()
    assert not (v1 / "topics" / "streaming.html").exists()
    assert (v2 / "topics" / "streaming.html").is_file()
    assert not (v2 / "topics" / "legacy-ingest.html").exists()
    for page in SHARED_PAGES:
        assert (v1 / page).is_file(), page
        assert (v2 / page).is_file(), page


def test_navigation_only_offers_the_versions_pages(
    two_versions: dict[str, Path],
) -> None:
    v1_links = links(two_versions["1.0"] / "index.html")
    v2_links = links(two_versions["2.0"] / "index.html")
    assert "topics/legacy-ingest.html" in v1_links
    assert "topics/streaming.html" not in v1_links
    assert "topics/streaming.html" in v2_links
    assert "topics/legacy-ingest.html" not in v2_links


def test_the_version_comes_from_the_environment(two_versions: dict[str, Path]) -> None:
    for version, out in two_versions.items():
        install = (out / "install.html").read_text()
        assert f"<title>Installation &#8212; Lanternfish {version}</title>" in install
        assert f"lanternfish, version {version}" in install
        assert (
            f"VERSION: '{version}'"
            in (out / "_static" / "documentation_options.js").read_text()
        )


def test_example_uses_the_ltd_theme(two_versions: dict[str, Path]) -> None:
    page = tags(two_versions["2.0"] / "quickstart.html")
    assert any("ltd-theme.js" in (t.get("src") or "") for t in page)
    assert any(t.get("id") == "ltd-version-banner" for t in page)
