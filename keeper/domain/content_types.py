"""Content types for what documentation sites contain.

``mimetypes`` reads the host's ``/etc/mime.types``, so the same file could be
typed differently on two CI runners; the table below pins what docs use and
falls back to the standard library only for the rest.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

#: Text types carry a charset: Sphinx and MkDocs write UTF-8, and browsers
#: otherwise guess (badly, for non-ASCII pages served without one).
BY_EXTENSION: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".cjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".rst": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".ipynb": "application/x-ipynb+json",
    ".csv": "text/csv; charset=utf-8",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".inv": "application/octet-stream",
}

#: Sphinx's ``objects.inv`` and search index have no useful extension types.
_BY_NAME: dict[str, str] = {
    "objects.inv": "application/octet-stream",
    "_redirects": "text/plain; charset=utf-8",
    ".nojekyll": "text/plain; charset=utf-8",
}

GZIP = "application/gzip"
FALLBACK = "application/octet-stream"


def content_type_for(path: str) -> str:
    """The ``Content-Type`` to store ``path`` under.

    A ``.gz`` file is stored as ``application/gzip`` and never with
    ``Content-Encoding: gzip``: served as-is it must download as the archive
    it is (``data.tar.gz``), and a precompressed sibling such as
    ``app.js.gz`` is there for an edge that negotiates ``Accept-Encoding``
    itself (nginx ``gzip_static``), which sets the encoding and type from the
    uncompressed sibling.
    """
    name = PurePosixPath(path).name
    if name in _BY_NAME:
        return _BY_NAME[name]
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in (".gz", ".tgz"):
        return GZIP
    if suffix in BY_EXTENSION:
        return BY_EXTENSION[suffix]
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return FALLBACK
    return guessed or FALLBACK
