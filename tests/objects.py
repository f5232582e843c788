"""Every object a store holds, read straight from its folder or bucket
(bypassing keeper), to compare before and after an upload."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from tests.servers import S3Endpoint

#: Key -> bytes.
Objects = dict[str, bytes]
Walk = Callable[[], Objects]


def _wanted(key: str) -> bool:
    # Generated pages (/v/, switcher files) are rewritten by keeper after
    # each publish, on a thread of their own: none of the uploads' business.
    return "/_meta/" not in f"/{key}"


def folder_walk(root: Path) -> Walk:
    def walk() -> Objects:
        if not root.exists():
            return {}
        return {
            key: path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and _wanted(key := path.relative_to(root).as_posix())
        }

    return walk


def bucket_walk(endpoint: S3Endpoint, bucket: str) -> Walk:
    s3 = endpoint.client()

    def walk() -> Objects:
        found: Objects = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", ()):
                key = item["Key"]
                if _wanted(key):
                    found[key] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return found

    return walk


def under(objects: Objects, prefix: str) -> Objects:
    """The objects under ``prefix``, keyed relative to it."""
    return {k[len(prefix) :]: v for k, v in objects.items() if k.startswith(prefix)}


def read_build(read: Callable[[str], bytes], product: str, build: str) -> Objects:
    """A build's files as keeper stores them, path -> bytes: through its
    manifest object, each file's content-addressed object. ``product`` is
    the product's key prefix (``lsst/pipelines``); ``read`` reads a key."""
    manifest = json.loads(
        gzip.decompress(read(f"{product}/_manifests/{build}.json.gz"))
    )
    assert manifest["build"] == build
    files: Objects = {}
    for entry in manifest["files"]:
        digest = entry["sha256"]
        data = read(f"{product}/_objects/{digest[:2]}/{digest}")
        # An object holds what its name says, at the manifest's size.
        assert hashlib.sha256(data).hexdigest() == digest, entry
        assert len(data) == entry["size"], entry
        files[entry["path"]] = data
    return files


def build_in(objects: Objects, product: str, build: str) -> Objects:
    """:func:`read_build` over a walk's result."""
    return read_build(objects.__getitem__, product, build)
