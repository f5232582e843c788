"""The canonical link: the browser's to set, unless the project set html_baseurl."""

from __future__ import annotations

from pathlib import Path

from tests.theme.conftest import NetworkAttempts, sphinx_build, tags, write_project


def canonical_links(html_file: Path) -> list[str | None]:
    return [
        tag.get("href")
        for tag in tags(html_file)
        if tag.name == "link" and tag.get("rel") == "canonical"
    ]


def theme_script(html_file: Path):
    (script,) = [t for t in tags(html_file) if "ltd-theme.js" in (t.get("src") or "")]
    return script


def test_html_baseurl_keeps_sphinx_canonical(
    tmp_path: Path, offline: NetworkAttempts
) -> None:
    conf = (
        'html_theme = "ltd"\nhtml_baseurl = "https://docs.example.org/lanternfish/"\n'
    )
    source = write_project(tmp_path / "src", conf)
    out = tmp_path / "html"
    sphinx_build(source, out)

    assert canonical_links(out / "guide.html") == [
        "https://docs.example.org/lanternfish/guide.html"
    ]
    # and the script is told not to replace it
    assert theme_script(out / "guide.html").get("data-ltd-keep-canonical") == "true"


def test_without_html_baseurl_the_script_owns_the_canonical(
    tmp_path: Path, offline: NetworkAttempts
) -> None:
    source = write_project(tmp_path / "src", 'html_theme = "ltd"\n')
    out = tmp_path / "html"
    sphinx_build(source, out)

    assert canonical_links(out / "guide.html") == []
    assert "data-ltd-keep-canonical" not in theme_script(out / "guide.html").attrs
