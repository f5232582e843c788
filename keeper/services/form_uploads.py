"""Form (HTML POST) uploads: a file per request into a granted folder.

LTD Keeper 1.x clients (ltd-conveyor 0.8) upload this way. A form grant
covers a whole folder and declares no file, so neither its size nor its
content can be pinned: a leaked one could write anything under its folder
until it expires. Every form upload therefore lands in the build's staging
folder, which no edge serves; the 1.x confirmation copies what landed into
the build's own prefix and hashes the copies (keeper.services.compat).
A POST after that lands in staging only, and staging is removed.

Stores that presign POSTs (S3) take them directly: S3 cannot ask keeper
about the build, so staging is what makes a late POST harmless there.
For the other stores keeper signs its own form URL, checks at each POST
that the build is still being uploaded, and writes into staging as well:
the 1.x confirmation reads the folder without holding any lock, so a
relayed POST that passed its check just before the confirmation could
otherwise still land in a published build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import BinaryIO

from keeper.db import Build, Organization, Product
from keeper.domain.limits import MAX_FILE_BYTES
from keeper.domain.paths import PathError, check_path
from keeper.services.errors import Conflict, Forbidden, Invalid
from keeper.services.runtime import Runtime
from keeper.services.stores import staging_prefix
from keeper.services.upload_urls import PostGrant
from keeper.storage import (
    InvalidKey,
    ObjectStore,
    PostTarget,
    StorageError,
    validate_dir_prefix,
)

_FILENAME = "${filename}"


@dataclass(frozen=True)
class FormFile:
    """The ``file`` part of a form upload, as received."""

    filename: str
    content_type: str | None
    body: BinaryIO
    size: int


def post_target(
    runtime: Runtime,
    store: ObjectStore,
    org: Organization,
    product: Product,
    build: Build,
    folder: str,
) -> PostTarget:
    """Where a client form-POSTs the files of ``folder`` ("" or "a/b/")."""
    root = staging_prefix(product, build)
    if store.supports_presigned_post:
        return store.presign_post(
            root + folder,
            expires_in=runtime.settings.form_upload_url_expires_in,
            max_bytes=MAX_FILE_BYTES,
        )
    return _keeper_target(runtime, org, build, root, folder, discard=False)


def marker_target(
    runtime: Runtime, org: Organization, product: Product, build: Build, folder: str
) -> PostTarget:
    """Where LTD's empty directory-marker object for ``folder`` goes.

    Always keeper, which accepts it and stores nothing: on a folder store
    the marker's key collides with the folder itself, and the edge decides
    directory redirects from the manifest instead.
    """
    root = staging_prefix(product, build)
    return _keeper_target(runtime, org, build, root, folder, discard=True)


def _keeper_target(
    runtime: Runtime,
    org: Organization,
    build: Build,
    root: str,
    folder: str,
    *,
    discard: bool,
) -> PostTarget:
    validate_dir_prefix(root + folder)
    expires = int(time.time()) + runtime.settings.form_upload_url_expires_in
    grant = PostGrant(
        org=org.slug,
        build=build.public_id,
        root=root,
        folder=folder,
        expires=expires,
        discard=discard,
    )
    base = runtime.settings.base_url.rstrip("/")
    # The key field mirrors S3's, so clients written for S3 work unchanged.
    return PostTarget(
        url=f"{base}/api/uploads/form/{runtime.signer.sign_post(grant)}",
        fields={"key": grant.prefix + _FILENAME},
    )


def receive_form_post(
    store: ObjectStore,
    grant: PostGrant,
    *,
    key_field: str | None,
    file: FormFile,
) -> str | None:
    """Store one posted file in the granted org's ``store``; returns its key
    (None for a discarded marker)."""
    if grant.discard:
        if file.size:
            raise Invalid("this URL takes an empty directory marker, not a file")
        return None
    key = resolve_key(grant, key_field, file.filename)
    try:
        store.put(key, file.body, content_type=file.content_type)
    except InvalidKey as exc:  # pragma: no cover - resolve_key refuses these
        raise Forbidden(f"the key {key!r} cannot be stored: {exc}") from exc
    except StorageError as exc:
        # A folder store cannot hold 'q' beside 'q/y.html': the client's
        # error, said as such rather than as a failing store.
        if not _clashes(store, key):
            raise
        raise Conflict(
            f"{key[len(grant.root) :]!r} cannot be stored beside a file or folder "
            "of the same name"
        ) from exc
    return key


def resolve_key(grant: PostGrant, key_field: str | None, filename: str) -> str:
    """The object key a form upload names, refused unless it lies in the
    granted folder (what S3 enforces with a ``starts-with $key`` condition)
    and names a file a build may hold."""
    prefix = grant.prefix
    template = prefix + _FILENAME if key_field is None else key_field
    key = template.replace(_FILENAME, filename)
    if not key.startswith(prefix) or key == prefix:
        raise Forbidden(f"the key {key!r} is outside what this upload URL allows")
    try:
        # Checked after the prefix: "a/../b" starts with "a/" yet leaves it.
        check_path(key[len(grant.root) :])
    except PathError as exc:
        raise Forbidden(f"the key cannot be stored: {exc}") from exc
    return key


def _clashes(store: ObjectStore, key: str) -> bool:
    """Is ``key`` already a folder, or one of its folders already a file?"""
    if next(iter(store.list(key + "/")), None) is not None:
        return True
    parts = key.split("/")
    return any(store.stat("/".join(parts[:i])) for i in range(1, len(parts)))
