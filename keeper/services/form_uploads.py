"""Form (HTML POST) uploads: a file per request into a granted folder.

Stores that presign POSTs (S3) take them directly; for the others keeper
signs its own form URL and writes what arrives, like its signed PUTs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import BinaryIO

from keeper.db import Organization
from keeper.services.errors import Forbidden, Invalid
from keeper.services.runtime import Runtime
from keeper.services.upload_urls import PostGrant
from keeper.storage import (
    InvalidKey,
    ObjectStore,
    PostTarget,
    validate_dir_prefix,
    validate_key,
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
    runtime: Runtime, store: ObjectStore, org: Organization, prefix: str
) -> PostTarget:
    """Where a client form-POSTs files under the folder ``prefix``."""
    if store.supports_presigned_post:
        return store.presign_post(
            prefix, expires_in=runtime.settings.upload_url_expires_in
        )
    return _keeper_target(runtime, org, prefix, discard=False)


def marker_target(runtime: Runtime, org: Organization, prefix: str) -> PostTarget:
    """Where LTD's empty directory-marker object for ``prefix`` goes.

    Always keeper, which accepts it and stores nothing: on a folder store
    the marker's key collides with the folder itself, and the edge decides
    directory redirects from the manifest instead.
    """
    return _keeper_target(runtime, org, prefix, discard=True)


def _keeper_target(
    runtime: Runtime, org: Organization, prefix: str, *, discard: bool
) -> PostTarget:
    validate_dir_prefix(prefix)
    expires = int(time.time()) + runtime.settings.upload_url_expires_in
    token = runtime.signer.sign_post(
        PostGrant(org=org.slug, prefix=prefix, expires=expires, discard=discard)
    )
    base = runtime.settings.base_url.rstrip("/")
    # The key field mirrors S3's, so clients written for S3 work unchanged.
    return PostTarget(
        url=f"{base}/api/uploads/form/{token}",
        fields={"key": prefix + _FILENAME},
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
    key = resolve_key(grant.prefix, key_field, file.filename)
    try:
        store.put(key, file.body, content_type=file.content_type)
    except InvalidKey as exc:  # a name the store reserves for itself
        raise Forbidden(f"the key {key!r} cannot be stored: {exc}") from exc
    return key


def resolve_key(prefix: str, key_field: str | None, filename: str) -> str:
    """The object key a form upload names, refused unless it lies in
    ``prefix``: what S3 enforces with a ``starts-with $key`` condition."""
    template = prefix + _FILENAME if key_field is None else key_field
    key = template.replace(_FILENAME, filename)
    if not key.startswith(prefix) or key == prefix:
        raise Forbidden(f"the key {key!r} is outside what this upload URL allows")
    try:
        validate_key(key)
    except InvalidKey as exc:
        # Checked after the prefix: "a/../b" starts with "a/" yet leaves it.
        raise Forbidden(f"the key {key!r} cannot be stored: {exc}") from exc
    return key
