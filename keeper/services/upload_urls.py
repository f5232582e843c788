"""Keeper's own signed upload URLs, for stores that cannot presign.

A PUT URL grants one declared file of one build: the org, the build, the
object key, the size, the sha256, the content type and an expiry, signed
with HMAC-SHA256. A form POST URL grants a folder of one build the same
way. Holding a URL is the permission to write, so each is checked against
the database as well when it is used: an upload URL ends with its build's
upload, whatever its expiry says (keeper.services.upload_grants).

Every credential is sealed under a purpose of its own, so that none can
pass for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keeper.services.errors import Forbidden


@dataclass(frozen=True)
class UploadGrant:
    """Permission to PUT exactly one declared file of a build.

    ``key`` lies in the build's staging folder; the body must be ``size``
    bytes hashing to ``sha256`` (hex), and is stored as ``content_type``.
    """

    org: str
    build: str
    key: str
    size: int
    sha256: str
    content_type: str
    expires: int


@dataclass(frozen=True)
class PostGrant:
    """Permission to form-POST files into ``folder`` (``""`` or ``"a/b/"``)
    of a build, whose files land under ``root``, the build's staging folder.

    ``discard`` grants take LTD's empty directory-marker objects and store
    nothing: a folder store cannot hold a key that is also a prefix.
    """

    org: str
    build: str
    root: str
    folder: str
    expires: int
    discard: bool = False

    @property
    def prefix(self) -> str:
        return self.root + self.folder


_PUT_PURPOSE = "put"
_POST_PURPOSE = "form-post"
_EXPIRED = "the upload URL has expired; ask keeper for a new one"


class UploadSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, grant: UploadGrant) -> str:
        return self.seal(
            _PUT_PURPOSE,
            [
                grant.org,
                grant.build,
                grant.key,
                grant.size,
                grant.sha256,
                grant.content_type,
                grant.expires,
            ],
        )

    def verify(self, token: str, *, now: float | None = None) -> UploadGrant:
        try:
            org, build, key, size, sha256, content_type, expires = self.unseal(
                _PUT_PURPOSE, token
            )
        except ValueError as exc:
            # Also what a URL signed before grants named their build gets:
            # the client asks for a fresh one, as for an expired URL.
            raise Forbidden("the upload URL's signature is not valid") from exc
        if (now or time.time()) > expires:
            raise Forbidden(_EXPIRED)
        return UploadGrant(org, build, key, size, sha256, content_type, expires)

    def sign_post(self, grant: PostGrant) -> str:
        return self.seal(
            _POST_PURPOSE,
            [
                grant.org,
                grant.build,
                grant.root,
                grant.folder,
                grant.expires,
                grant.discard,
            ],
        )

    def verify_post(self, token: str, *, now: float | None = None) -> PostGrant:
        try:
            org, build, root, folder, expires, discard = self.unseal(
                _POST_PURPOSE, token
            )
        except ValueError as exc:
            raise Forbidden("the upload URL's signature is not valid") from exc
        if (now or time.time()) > expires:
            raise Forbidden(_EXPIRED)
        return PostGrant(org, build, root, folder, expires, discard)

    def seal(self, purpose: str, items: list[Any]) -> str:
        """Sign ``items`` (JSON values) for ``purpose``; see :meth:`unseal`."""
        payload = _b64(json.dumps(items, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload, purpose)}"

    def unseal(self, purpose: str, token: str) -> list[Any]:
        """The items sealed for ``purpose``; ValueError for anything else."""
        payload, _, mac = token.partition(".")
        # Compared as bytes: compare_digest raises TypeError for str with
        # non-ASCII characters, which a hostile URL may well contain.
        expected = self._mac(payload, purpose).encode()
        if not mac or not hmac.compare_digest(mac.encode(), expected):
            raise ValueError("bad signature")
        items = json.loads(_unb64(payload))
        if not isinstance(items, list):
            raise ValueError("malformed")
        return items

    def _mac(self, payload: str, purpose: str) -> str:
        # The purpose is followed by NUL, which base64 payloads never
        # contain, so a MAC for one purpose can never verify for another.
        message = f"{purpose}\0{payload}"
        return _b64(hmac.new(self._secret, message.encode(), hashlib.sha256).digest())


def load_or_create_secret(path: Path) -> bytes:
    """The signing key shared by every keeper process using ``path``."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(secret)
    tmp.chmod(0o600)
    try:
        # link() fails if another process won the race; use its key then.
        path.hardlink_to(tmp)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
