"""Where a product's things live in its org's store.

::

    <product>/_objects/<sha256[:2]>/<sha256>   each file's bytes, once
    <product>/_manifests/<build>.json.gz      each build's manifest (gzip)
    <product>/builds/<build>/<path>           a build as plain files, for
                                              edges that read prefixes
    <product>/_staging/<build>/<path>         uploads, until verified
    <product>/_meta/                          generated pages (/v/ …)
"""

from __future__ import annotations

OBJECTS_FOLDER = "_objects"
MANIFESTS_FOLDER = "_manifests"
BUILDS_FOLDER = "builds"
STAGING_FOLDER = "_staging"


def object_key(product: str, sha256: str) -> str:
    """The bytes hashing to ``sha256`` (the first two hex digits make a
    folder, so that no folder holds millions of files)."""
    return f"{product}/{OBJECTS_FOLDER}/{sha256[:2]}/{sha256}"


def manifest_key(product: str, build: str) -> str:
    """The build's manifest, JSON compressed with gzip: a 5,000-file
    manifest is about 750 kB as JSON, a third of that compressed, and one
    is kept per build."""
    return f"{product}/{MANIFESTS_FOLDER}/{build}.json.gz"


def builds_prefix(product: str) -> str:
    return f"{product}/{BUILDS_FOLDER}/"
