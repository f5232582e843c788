"""Content types for what documentation sites contain."""

from __future__ import annotations

import pytest

from keeper.domain.content_types import content_type_for


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("a/B.HTML", "text/html; charset=utf-8"),
        ("_static/style.css", "text/css; charset=utf-8"),
        ("_static/app.js", "text/javascript; charset=utf-8"),
        ("_static/module.mjs", "text/javascript; charset=utf-8"),
        ("searchindex.json", "application/json"),
        ("_static/app.js.map", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("logo.png", "image/png"),
        ("fonts/lato.woff2", "font/woff2"),
        ("pkg.wasm", "application/wasm"),
        ("robots.txt", "text/plain; charset=utf-8"),
        ("sitemap.xml", "application/xml"),
        ("objects.inv", "application/octet-stream"),
        ("_redirects", "text/plain; charset=utf-8"),
        # Precompressed siblings and archives download as gzip, never with
        # Content-Encoding, so browsers do not unpack a tarball they save.
        ("_static/app.js.gz", "application/gzip"),
        ("data/table.tar.gz", "application/gzip"),
        ("release.tgz", "application/gzip"),
        ("notes.bz2", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
        ("weird.zzzunknown", "application/octet-stream"),
    ],
)
def test_content_type(path: str, expected: str) -> None:
    assert content_type_for(path) == expected
