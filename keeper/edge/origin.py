"""Where an edge fetches an org's objects from: a folder or an S3 endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from keeper.storage import ObjectStore
from keeper.storage.factory import PrefixedStore
from keeper.storage.filesystem import FilesystemStore
from keeper.storage.s3 import S3Store

#: S3's response headers that say nothing a reader needs: edges in front of
#: S3 drop them.
AMZ_HEADERS = (
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-version-id",
    "x-amz-server-side-encryption",
    "x-amz-storage-class",
    "x-amz-expiration",
    "x-amz-restore",
    "x-amz-replication-status",
    "x-amz-website-redirect-location",
    "x-amz-delete-marker",
    "x-amz-tagging-count",
    "x-amz-mp-parts-count",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    # moto keeps the signing header of a CopyObject that replaces metadata
    # (how keeper publishes an upload with the manifest's type) as the
    # copy's metadata, and sends it back on every GET.
    "x-amz-content-sha256",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
    "x-amzn-requestid",
    "x-amz-meta-sha256",
    "x-amz-meta-md5",
)


class UnsupportedOrigin(ValueError):
    """A store no generated configuration can read from."""


@dataclass(frozen=True)
class Origin:
    #: ``filesystem`` or ``s3``.
    kind: str
    #: filesystem: the folder holding the org's keys (``<product>/builds/…``).
    root: Path | None = None
    #: s3: ``http(s)://host:port`` of the endpoint (path-style requests).
    endpoint: str | None = None
    bucket: str | None = None
    #: s3: the org's key prefix in the bucket, ``""`` or ``a/b/`` (ends in /).
    prefix: str = ""

    @property
    def host_port(self) -> tuple[str, int]:
        """The S3 endpoint's host and port."""
        parts = urlsplit(self.endpoint or "")
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname or "", parts.port or default

    @property
    def https(self) -> bool:
        return (self.endpoint or "").startswith("https://")

    @property
    def path_prefix(self) -> str:
        """s3: the URL path before an org key: ``/<bucket>/<prefix>``."""
        return f"/{self.bucket}/{self.prefix}"


def origin_of(store: ObjectStore) -> Origin:
    prefix = ""
    while isinstance(store, PrefixedStore):
        prefix = f"{store.prefix}/{prefix}"
        store = store.store
    if isinstance(store, FilesystemStore):
        return Origin(
            kind="filesystem", root=store.root / prefix if prefix else store.root
        )
    if isinstance(store, S3Store):
        endpoint = store.client.meta.endpoint_url.rstrip("/")
        inner = f"{store.prefix}/" if store.prefix else ""
        return Origin(
            kind="s3", endpoint=endpoint, bucket=store.bucket, prefix=inner + prefix
        )
    raise UnsupportedOrigin(f"no edge configuration can read from {store!r}")
