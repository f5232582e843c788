"""Registering a build: record the manifest, and hand out upload URLs for
the objects the product does not hold yet."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, func, select

from keeper.db import Build, BuildFile, BuildStatus, Organization, Product
from keeper.db.batches import in_batches
from keeper.db.types import pk
from keeper.services.builds.staging import sends_in_place
from keeper.services.errors import Conflict, Invalid
from keeper.services.objects import claim_held, schedule_collection
from keeper.services.runtime import Runtime
from keeper.services.stores import object_key, staging_prefix
from keeper.services.upload_grants import WRITABLE
from keeper.services.upload_urls import UploadGrant
from keeper.storage import ObjectStore, UploadTarget


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    sha256: str
    content_type: str
    md5: str | None = None


@dataclass(frozen=True)
class Upload:
    path: str
    target: UploadTarget


@dataclass(frozen=True)
class Registration:
    build: Build
    uploads: list[Upload]
    #: Files not asked for: the product holds their bytes already (or
    #: another path of the build sends the same bytes).
    reused: int
    #: True when an interrupted upload of the same manifest was picked up.
    resumed: bool
    #: Files to upload whose URLs were not signed yet (``first_urls``):
    #: the client asks for them with :func:`renew_uploads` while it sends.
    more: list[str] = field(default_factory=list)


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
    first_urls: int | None = None,
) -> Registration:
    """Register a build, or resume the pending one with the same manifest.

    With ``first_urls``, only that many upload URLs are signed now (signing
    thousands takes a second or more on S3); the other files are named in
    :attr:`Registration.more`, so the client starts sending at once and
    asks for the rest meanwhile.

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
        entries = _missing_entries(session, runtime, org, product, twin)
        reused = session.exec(
            select(func.count())
            .select_from(BuildFile)
            .where(BuildFile.build_id == twin.id, col(BuildFile.reused))
        ).one()
        return _signed(
            runtime, org, product, twin, entries, first_urls, reused, resumed=True
        )
    build, entries = register_build(
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
    reused = build.file_count - len(entries)
    return _signed(
        runtime, org, product, build, entries, first_urls, reused, resumed=False
    )


def _signed(
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
    entries: list[ManifestEntry],
    first_urls: int | None,
    reused: int,
    *,
    resumed: bool,
) -> Registration:
    now = entries if first_urls is None else entries[:first_urls]
    return Registration(
        build,
        _uploads(runtime, org, product, build, now),
        reused=reused,
        resumed=resumed,
        more=[e.path for e in entries[len(now) :]],
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
) -> tuple[Build, list[ManifestEntry]]:
    """Record a new pending build; returns it and the files to ask for:
    only the bytes keeper lacks.

    A file whose sha256 (at its size) the product already holds is not
    asked for, and neither is a second path with the same bytes as
    another of the build: one upload per missing object. No storage
    request is made for the rest; the held objects are claimed, so that
    garbage collection keeps them for this build.
    """
    wanted: dict[str, int] = {}
    for e in manifest:
        wanted.setdefault(e.sha256, e.size)
    held = claim_held(session, product, wanted)
    # One path sends each missing object: the first in path order, so
    # that a resumed registration asks for the same one.
    senders: dict[str, str] = {}
    for e in sorted(manifest, key=lambda e: e.path):
        if e.sha256 not in held:
            senders.setdefault(e.sha256, e.path)
    build = Build(
        public_id=new_public_id(),
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
        return {
            "build_id": pk(build),
            "product_id": pk(product),
            "path": e.path,
            "size": e.size,
            "sha256": e.sha256,
            "md5": e.md5,
            "content_type": e.content_type,
            # A held object was hashed by keeper when it was placed.
            "sha256_verified": e.sha256 in held,
            "reused": senders.get(e.sha256) != e.path,
        }

    # One multi-row INSERT: building thousands of ORM objects costs more
    # than the rest of the registration.
    if manifest:
        session.execute(insert(BuildFile), [row(e) for e in manifest])
    wanted_entries = sorted(
        (e for e in manifest if senders.get(e.sha256) == e.path), key=lambda e: e.path
    )
    # Should the upload be abandoned, collection expires the build then.
    expires = timedelta(seconds=runtime.settings.pending_build_expires_in)
    schedule_collection(session, runtime, product, expires)
    session.flush()
    return build, wanted_entries


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
    files = files_named(session, build, paths)
    copied = sorted(path for path, f in files.items() if f.reused)
    if copied:
        # Their bytes are held, or sent under another path: nobody
        # uploads them.
        raise Invalid(
            f"keeper holds the bytes of these files of build {build.public_id!r} "
            f"already (or takes them under another path); they take no upload: "
            f"{', '.join(copied[:20])}"
        )
    ordered = sorted(files.values(), key=lambda f: f.path)
    return _uploads(runtime, org, product, build, [_entry(f) for f in ordered])


def files_named(
    session: Session, build: Build, paths: Iterable[str]
) -> dict[str, BuildFile]:
    """The files of ``build`` at ``paths``, by path; Invalid naming those
    that are not the build's."""
    wanted = sorted(set(paths))
    files = {
        f.path: f
        for batch in in_batches(wanted)
        for f in session.exec(
            select(BuildFile).where(
                BuildFile.build_id == build.id, col(BuildFile.path).in_(batch)
            )
        )
    }
    unknown = [p for p in wanted if p not in files]
    if unknown:
        raise Invalid(
            f"not files of build {build.public_id!r}: {', '.join(unknown[:20])}"
        )
    return files


def _missing_entries(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
) -> list[ManifestEntry]:
    prefix = staging_prefix(product, build)
    store = runtime.stores.for_org(org)
    landed = {info.key[len(prefix) :]: info.size for info in store.list(prefix)}

    def sent(f: BuildFile) -> bool:
        if sends_in_place(store, f.md5):
            info = store.stat(object_key(product, f.sha256))
            return info is not None and info.size == f.size
        return landed.get(f.path) == f.size

    missing = [
        _entry(f)
        for f in session.exec(
            select(BuildFile)
            .where(BuildFile.build_id == build.id)
            .order_by(col(BuildFile.path))
        )
        if not f.reused and not sent(f)
    ]
    return missing


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
        Upload(
            e.path,
            upload_target(
                runtime,
                store,
                org,
                build,
                object_key(product, e.sha256)
                if sends_in_place(store, e.md5)
                else prefix + e.path,
                e,
            ),
        )
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
    """Where the client sends one file (``key``: in the build's staging
    folder, or its object key, see :func:`sends_in_place`): the store's own
    presigned URL, or keeper's signed URL for stores that cannot presign.

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


def _base64_hex(hex_digest: str) -> str:
    """A hex digest as the base64 that Content-MD5 and S3's checksum
    headers carry."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
