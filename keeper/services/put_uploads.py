"""A body sent to keeper's signed PUT URL: exactly the declared file, or
nothing stored.

The length is checked from the headers before a byte is read; the body is
then spooled and hashed as it arrives, and only a body of the granted size
and sha256 is handed on to the store. A URL can therefore write nothing
but the file its manifest declared, so replaying one writes the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from types import TracebackType
from typing import BinaryIO, cast

from sqlmodel import Session

from keeper.services.errors import KeeperError
from keeper.services.runtime import Runtime
from keeper.services.upload_grants import writable_store
from keeper.services.upload_urls import UploadGrant

#: Bodies up to this size stay in memory; larger ones spill to disk.
SPOOL_BYTES = 8 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]{1,20}")


class BodyTooLarge(KeeperError):
    status_code = 413
    error_type = "too_large"


class BodyMismatch(KeeperError):
    """The body is not the file the URL was granted for."""

    status_code = 400
    error_type = "body_mismatch"


def check_declared_length(header: str | None, grant: UploadGrant) -> None:
    """Refuse a ``Content-Length`` other than the granted size, unread.

    A request without one (chunked) is measured as it arrives instead.
    """
    if header is None:
        return
    value = header.strip()
    if not _DIGITS.fullmatch(value):
        raise BodyMismatch(f"Content-Length {header[:30]!r} is not a byte count")
    declared = int(value)
    if declared > grant.size:
        raise BodyTooLarge(
            f"the body is {declared} bytes; this URL takes the {grant.size} bytes "
            "the manifest declared"
        )
    if declared < grant.size:
        raise BodyMismatch(
            f"the body is {declared} bytes; this URL takes the {grant.size} bytes "
            "the manifest declared"
        )


class GrantedBody:
    """Collects a PUT body, refusing it as soon as it outgrows the grant::

    with GrantedBody(grant) as body:
        async for chunk in request.stream():
            body.write(chunk)
        store.put(key, body.verified())
    """

    def __init__(self, grant: UploadGrant) -> None:
        self._grant = grant
        self._digest = hashlib.sha256()
        self._size = 0
        # Closed by __exit__: this class is the context manager.
        self._file = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115

    def __enter__(self) -> GrantedBody:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._file.close()

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._grant.size:
            raise BodyTooLarge(
                f"the body is larger than the {self._grant.size} bytes the "
                "manifest declared"
            )
        self._digest.update(chunk)
        self._file.write(chunk)

    def verified(self) -> BinaryIO:
        """The whole body, rewound, if it is the granted file."""
        if self._size != self._grant.size:
            raise BodyMismatch(
                f"the body ended after {self._size} of the {self._grant.size} "
                "bytes the manifest declared; nothing was stored"
            )
        if self._digest.hexdigest() != self._grant.sha256:
            raise BodyMismatch(
                "the body's sha256 is not the one the manifest declared; "
                "nothing was stored"
            )
        self._file.seek(0)
        return cast(BinaryIO, self._file)


def store_granted(
    session: Session, runtime: Runtime, grant: UploadGrant, data: BinaryIO
) -> None:
    """Write a verified body at the key its grant names, with the
    manifest's type whatever the request said; refused if the build was
    confirmed while the body arrived."""
    store = writable_store(
        session, runtime, org=grant.org, build=grant.build, key_prefix=grant.key
    )
    store.put(grant.key, data, content_type=grant.content_type)
