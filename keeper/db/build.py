from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class BuildStatus(StrEnum):
    #: Registered; takes uploads.
    pending = "pending"
    #: Confirmed by its uploader: takes no more uploads while the
    #: ``verify_build`` job copies and checks its files and re-points
    #: editions.
    processing = "processing"
    #: Verified and published; immutable from here on.
    complete = "complete"
    #: Verification failed (``error`` names the files); uploads allowed
    #: again, and confirming again retries.
    failed = "failed"


class Build(SQLModel, table=True):
    """One uploaded HTML tree; immutable once complete.

    ``id`` is internal and doubles as the registration order the tracking
    stale guard relies on; ``public_id`` is what URLs and clients see.
    """

    __table_args__ = (
        Index("ix_build_product_digest", "product_id", "manifest_digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(index=True, unique=True, max_length=32)
    product_id: int = Field(foreign_key="product.id", index=True)
    git_ref: str = Field(max_length=255)
    git_refs: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    alternate_name: str | None = Field(default=None, max_length=100)
    status: BuildStatus = Field(default=BuildStatus.pending, sa_type=String(16))
    uploader: str | None = Field(default=None, max_length=200)
    #: CI annotations: commit sha, run URL, pull request number …
    ci: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    file_count: int = 0
    #: Bytes; 64-bit, as a build may hold up to MAX_BUILD_BYTES.
    total_size: int = Field(default=0, sa_type=BigInteger)
    #: sha256 over the manifest and refs: an interrupted upload that is run
    #: again finds its pending build by it and sends only what is missing.
    manifest_digest: str | None = Field(default=None, max_length=64)
    #: The rules of the build's ``_redirects`` file, read when it completes.
    redirects: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON)
    )
    #: Why the build failed, naming the files at fault.
    error: str | None = None
    #: True when the build's files are content-addressed objects (its
    #: manifest says which); False for a build stored the old way, as a
    #: full prefix, until ``keeper storage migrate`` converts it.
    content_addressed: bool = True
    #: True when ``<product>/builds/<id>/`` also holds the build as plain
    #: files (hard links on a folder store, copies on S3), for edges that
    #: read prefixes (nginx, Varnish, Fastly).
    materialized: bool = False
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    uploaded: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BuildFile(SQLModel, table=True):
    """One manifest entry. Also the index that lets identical files be reused."""

    __tablename__ = "build_file"
    __table_args__ = (
        UniqueConstraint("build_id", "path"),
        Index("ix_build_file_product_sha256", "product_id", "sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    build_id: int = Field(foreign_key="build.id", index=True)
    #: Denormalised so reuse lookups need no join.
    product_id: int = Field(foreign_key="product.id")
    path: str = Field(max_length=1024)
    #: Bytes; 64-bit, as a file may hold up to MAX_FILE_BYTES.
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    content_type: str = Field(max_length=255)
    #: The client's MD5, checked against the store's ETag (which the store
    #: computed from the bytes it received) when the build is confirmed.
    md5: str | None = Field(default=None, max_length=32)
    #: True once keeper itself hashed the stored object and found ``sha256``.
    #: Files verified only by MD5 are reused only by clients that send the
    #: same MD5, so a wrong sha256 claim cannot leak into another build.
    sha256_verified: bool = False
    #: True when the file was not asked of the client: the product held
    #: its object already, or another path of the build has the same bytes.
    reused: bool = False
