"""Registering a build: record the manifest, reuse what keeper holds, and
hand out upload URLs for the rest."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, func, select

from keeper.db import Build, BuildFile, BuildStatus, Organization, Product
from keeper.db.types import pk
from keeper.services.builds.verify import etag_md5
from keeper.services.errors import Conflict, Invalid
from keeper.services.runtime import Runtime
from keeper.services.stores import build_prefix, staging_prefix
from keeper.services.upload_grants import WRITABLE
from keeper.services.upload_urls import UploadGrant
from keeper.storage import ObjectNotFound, ObjectStore, StorageError, UploadTarget

#: Server-side copies run in parallel; object stores are latency-bound.
_COPY_WORKERS = 32
#: Keeps IN (...) lists well under every database's parameter limit.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    sha256: str
    content_type: str
    md5: str | None = None


@dataclass(frozen=True)
class _Source:
    """An identical file of a complete build, and what keeper knows of it."""

    key: str
    md5: str | None
    sha256_verified: bool


@dataclass(frozen=True)
class Upload:
    path: str
    target: UploadTarget


@dataclass(frozen=True)
class Registration:
    build: Build
    uploads: list[Upload]
    #: Files keeper copied from earlier builds instead of asking for them.
    reused: int
    #: True when an interrupted upload of the same manifest was picked up.
    resumed: bool


def new_public_id() -> str:
    # 64 random bits as 13 base32 characters: unguessable, short, URL-safe.
    return base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()


def register_or_resume(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    *,
    git_ref: str,
    git_refs: list[str] | None,
    alternate_name: str | None,
    manifest: list[ManifestEntry],
    ci: dict[str, Any],
    uploader: str | None,
) -> Registration:
    """Register a build, or resume the pending one with the same manifest.

    Re-running an interrupted ``ltd upload`` sends the same manifest and
    refs: it gets the same build back and is asked only for the files that
    have not landed in storage yet. Files that landed are still hashed when
    the build is confirmed, so a resumed build is verified like any other.
    """
    digest = manifest_digest(git_ref, git_refs, alternate_name, manifest)
    twin = session.exec(
        select(Build)
        .where(
            Build.product_id == product.id,
            Build.manifest_digest == digest,
            Build.status == BuildStatus.pending,
        )
        .order_by(col(Build.id).desc())
    ).first()
    if twin is not None:
        uploads = _missing_uploads(session, runtime, org, product, twin)
        reused = session.exec(
            select(func.count())
            .select_from(BuildFile)
            .where(BuildFile.build_id == twin.id, col(BuildFile.reused))
        ).one()
        return Registration(twin, uploads, reused=reused, resumed=True)
    build, uploads = register_build(
        session,
        runtime,
        org,
        product,
        git_ref=git_ref,
        git_refs=git_refs,
        alternate_name=alternate_name,
        manifest=manifest,
        ci=ci,
        uploader=uploader,
        digest=digest,
    )
    return Registration(
        build, uploads, reused=build.file_count - len(uploads), resumed=False
    )


def manifest_digest(
    git_ref: str,
    git_refs: list[str] | None,
    alternate_name: str | None,
    manifest: list[ManifestEntry],
) -> str:
    canonical = {
        "git_ref": git_ref,
        "git_refs": git_refs or [git_ref],
        "alternate_name": alternate_name,
        "files": sorted(
            [e.path, e.size, e.sha256, e.content_type, e.md5 or ""] for e in manifest
        ),
    }
    encoded = json.dumps(canonical, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


def register_build(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    *,
    git_ref: str,
    git_refs: list[str] | None,
    alternate_name: str | None,
    manifest: list[ManifestEntry],
    ci: dict[str, Any],
    uploader: str | None,
    digest: str | None = None,
) -> tuple[Build, list[Upload]]:
    """Record a new pending build; copy what keeper already holds.

    All or nothing: the copies are made first, into the prefix of a build
    that does not exist yet, and the build is recorded only once they are
    in. Any failure on the way removes every copy and records nothing.
    """
    public_id = new_public_id()
    store = runtime.stores.for_org(org)
    prefix = build_prefix(product, public_id)
    sources = _reusable_sources(session, product, manifest)
    # Copying is slow: no transaction stays open meanwhile. Nothing is
    # written yet, so this only ends the read (issue 13's content-addressed
    # builds remove the copying, and this with it).
    session.commit()
    committed = False
    try:
        reused = _copy_reused(store, prefix, sources, manifest)
        build = Build(
            public_id=public_id,
            product_id=pk(product),
            git_ref=git_ref,
            git_refs=git_refs or [git_ref],
            alternate_name=alternate_name,
            status=BuildStatus.pending,
            uploader=uploader,
            ci=ci,
            file_count=len(manifest),
            total_size=sum(e.size for e in manifest),
            manifest_digest=digest,
        )
        session.add(build)
        session.flush()

        def row(e: ManifestEntry) -> dict[str, Any]:
            source = sources[e.path] if e.path in reused else None
            return {
                "build_id": pk(build),
                "product_id": pk(product),
                "path": e.path,
                "size": e.size,
                "sha256": e.sha256,
                "md5": source.md5 if source and source.md5 else e.md5,
                "content_type": e.content_type,
                # A copy is exactly as verified as the object it was
                # copied from.
                "sha256_verified": source.sha256_verified if source else False,
                "reused": source is not None,
            }

        # One multi-row INSERT: building thousands of ORM objects costs more
        # than the rest of the registration.
        if manifest:
            session.execute(insert(BuildFile), [row(e) for e in manifest])
        wanted = [e for e in manifest if e.path not in reused]
        uploads = _uploads(runtime, org, product, build, wanted)
        session.flush()
        committed = True
    finally:
        if not committed:
            session.rollback()
            _remove_copies(store, prefix)
    return build, uploads


def _remove_copies(store: ObjectStore, prefix: str) -> None:
    """Best effort: the failure that brought us here is the one to report."""
    with contextlib.suppress(StorageError):
        store.delete_prefix(prefix)


def renew_uploads(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
    paths: list[str],
) -> list[Upload]:
    """Fresh upload URLs for files of a build still being uploaded, for a
    client whose URLs expired (a long upload, a paused CI runner)."""
    if build.status not in WRITABLE:
        raise Conflict(
            f"build {build.public_id!r} is {build.status}; files can only be "
            "uploaded to a pending or failed build"
        )
    wanted = set(paths)
    files = {
        f.path: f
        for chunk in _chunks(sorted(wanted), _LOOKUP_CHUNK)
        for f in session.exec(
            select(BuildFile).where(
                BuildFile.build_id == build.id, col(BuildFile.path).in_(chunk)
            )
        )
    }
    unknown = sorted(wanted - files.keys())
    if unknown:
        raise Invalid(
            f"not files of build {build.public_id!r}: {', '.join(unknown[:20])}"
        )
    copied = sorted(path for path, f in files.items() if f.reused)
    if copied:
        # Keeper put these in place itself, verified; nobody uploads them.
        raise Invalid(
            f"keeper copied these files of build {build.public_id!r} from an "
            f"earlier build; they take no upload: {', '.join(copied[:20])}"
        )
    ordered = sorted(files.values(), key=lambda f: f.path)
    return _uploads(runtime, org, product, build, [_entry(f) for f in ordered])


def _missing_uploads(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
) -> list[Upload]:
    prefix = staging_prefix(product, build)
    store = runtime.stores.for_org(org)
    landed = {info.key[len(prefix) :]: info.size for info in store.list(prefix)}
    missing = [
        _entry(f)
        for f in session.exec(
            select(BuildFile)
            .where(BuildFile.build_id == build.id)
            .order_by(col(BuildFile.path))
        )
        if not f.reused and landed.get(f.path) != f.size
    ]
    return _uploads(runtime, org, product, build, missing)


def _uploads(
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
    entries: list[ManifestEntry],
) -> list[Upload]:
    store = runtime.stores.for_org(org)
    prefix = staging_prefix(product, build)
    return [
        Upload(e.path, upload_target(runtime, store, org, build, prefix + e.path, e))
        for e in entries
    ]


def _entry(f: BuildFile) -> ManifestEntry:
    return ManifestEntry(f.path, f.size, f.sha256, f.content_type, f.md5)


def upload_target(
    runtime: Runtime,
    store: ObjectStore,
    org: Organization,
    build: Build,
    key: str,
    entry: ManifestEntry,
) -> UploadTarget:
    """Where the client sends one file (``key``, in the build's staging
    folder): the store's own presigned URL, or keeper's signed URL for
    stores that cannot presign.

    Either way the URL takes only the declared file: keeper's checks the
    size and sha256 itself; a presigned one has the length, the sha256
    and (when the client gave one) the MD5 in its signature, for the
    store to check (how far each server does is in
    tests/storage/test_presigned_put.py; confirmation catches the rest).
    """
    expires_in = runtime.settings.upload_url_expires_in
    if store.supports_presigned_put:
        return store.presign_put(
            key,
            content_type=entry.content_type,
            expires_in=expires_in,
            content_length=entry.size,
            content_md5=_base64_hex(entry.md5) if entry.md5 else None,
            checksum_sha256=_base64_hex(entry.sha256),
        )
    token = runtime.signer.sign(
        UploadGrant(
            org=org.slug,
            build=build.public_id,
            key=key,
            size=entry.size,
            sha256=entry.sha256,
            content_type=entry.content_type,
            expires=int(time.time()) + expires_in,
        )
    )
    base = runtime.settings.base_url.rstrip("/")
    return UploadTarget(
        url=f"{base}/api/uploads/{token}",
        method="PUT",
        headers={"Content-Type": entry.content_type},
    )


def _reusable_sources(
    session: Session, product: Product, manifest: list[ManifestEntry]
) -> dict[str, _Source]:
    """Manifest path -> an identical file of a complete build of the product.

    Identical means same size and sha256, and the sha256 must be one keeper
    hashed itself or come with the MD5 the store checked: a client's wrong
    sha256 claim can then only ever match that same client's bytes. A
    complete build's objects are written by keeper alone (uploads land in
    staging), so they still hold what was verified.
    """
    wanted = sorted({e.sha256 for e in manifest})
    candidates: dict[tuple[str, int], list[_Source]] = {}
    for chunk in _chunks(wanted, _LOOKUP_CHUNK):
        rows = session.exec(
            select(BuildFile, Build.public_id)
            .join(Build, col(Build.id) == BuildFile.build_id)
            .where(
                BuildFile.product_id == product.id,
                col(BuildFile.sha256).in_(chunk),
                Build.status == BuildStatus.complete,
            )
            .order_by(col(BuildFile.id).desc())
        )
        for f, public_id in rows:
            source = _Source(
                build_prefix(product, public_id) + f.path, f.md5, f.sha256_verified
            )
            candidates.setdefault((f.sha256, f.size), []).append(source)
    found: dict[str, _Source] = {}
    for e in manifest:
        for source in candidates.get((e.sha256, e.size), ()):
            if source.sha256_verified or (e.md5 and source.md5 == e.md5):
                found[e.path] = source
                break
    return found


def _copy_reused(
    store: ObjectStore,
    prefix: str,
    sources: dict[str, _Source],
    manifest: list[ManifestEntry],
) -> set[str]:
    """Copy known files into the new build; returns the paths copied.

    A source that vanished (its build was deleted meanwhile) is simply
    asked of the client instead, and so is a copy whose size or MD5 (where
    the store's listing shows one) is not what was verified: an object
    changed behind keeper's back is never passed on.
    """
    types = {e.path: e.content_type for e in manifest}

    def copy(job: tuple[str, _Source]) -> str | None:
        path, source = job
        try:
            store.copy(source.key, prefix + path, content_type=types[path])
        except ObjectNotFound:
            return None
        return path

    with ThreadPoolExecutor(_COPY_WORKERS) as pool:
        copied = {p for p in pool.map(copy, sources.items()) if p is not None}
    if not copied:
        return copied
    sizes = {e.path: e.size for e in manifest}
    listed = {info.key[len(prefix) :]: info for info in store.list(prefix)}
    changed = {
        path
        for path in copied
        if (info := listed.get(path)) is None
        or info.size != sizes[path]
        or _md5_differs(sources[path].md5, etag_md5(info.etag))
    }
    for path in changed:
        store.delete(prefix + path)
    return copied - changed


def _md5_differs(recorded: str | None, listed: str | None) -> bool:
    return recorded is not None and listed is not None and recorded != listed


def _base64_hex(hex_digest: str) -> str:
    """A hex digest as the base64 that Content-MD5 and S3's checksum
    headers carry."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
