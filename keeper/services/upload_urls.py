"""Keeper's own signed upload URLs, for stores that cannot presign.

A PUT URL carries the org, the object key, the declared size and an
expiry, signed with HMAC-SHA256; holding the URL is the permission to PUT
there. A form POST URL carries the org, a folder prefix and an expiry the
same way. Other short-lived credentials are sealed with the same key under
a purpose of their own, so that none can pass for another.
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
    org: str
    key: str
    size: int
    expires: int


@dataclass(frozen=True)
class PostGrant:
    """Permission to form-POST objects under ``prefix`` (a folder) of an org.

    ``discard`` grants take LTD's empty directory-marker objects and store
    nothing: a folder store cannot hold a key that is also a prefix.
    """

    org: str
    prefix: str
    expires: int
    discard: bool = False


_POST_PURPOSE = "form-post"


class UploadSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, grant: UploadGrant) -> str:
        payload = _b64(
            json.dumps(
                [grant.org, grant.key, grant.size, grant.expires], separators=(",", ":")
            ).encode()
        )
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, *, now: float | None = None) -> UploadGrant:
        payload, _, mac = token.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(payload)):
            raise Forbidden("the upload URL's signature is not valid")
        try:
            org, key, size, expires = json.loads(_unb64(payload))
        except ValueError as exc:
            raise Forbidden("the upload URL is malformed") from exc
        if (now or time.time()) > expires:
            raise Forbidden("the upload URL has expired; ask keeper for a new one")
        return UploadGrant(org=org, key=key, size=size, expires=expires)

    def sign_post(self, grant: PostGrant) -> str:
        return self.seal(
            _POST_PURPOSE, [grant.org, grant.prefix, grant.expires, grant.discard]
        )

    def verify_post(self, token: str, *, now: float | None = None) -> PostGrant:
        try:
            org, prefix, expires, discard = self.unseal(_POST_PURPOSE, token)
        except ValueError as exc:
            raise Forbidden("the upload URL is not valid") from exc
        if (now or time.time()) > expires:
            raise Forbidden("the upload URL has expired; ask keeper for a new one")
        return PostGrant(org=org, prefix=prefix, expires=expires, discard=discard)

    def seal(self, purpose: str, items: list[Any]) -> str:
        """Sign ``items`` (JSON values) for ``purpose``; see :meth:`unseal`."""
        payload = _b64(json.dumps(items, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload, purpose)}"

    def unseal(self, purpose: str, token: str) -> list[Any]:
        """The items sealed for ``purpose``; ValueError for anything else."""
        payload, _, mac = token.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(payload, purpose)):
            raise ValueError("bad signature")
        items = json.loads(_unb64(payload))
        if not isinstance(items, list):
            raise ValueError("malformed")
        return items

    def _mac(self, payload: str, purpose: str = "") -> str:
        # PUT tokens predate purposes and keep their plain MAC. A purpose is
        # followed by NUL, which base64 payloads never contain, so a MAC for
        # one purpose can never verify for another.
        message = f"{purpose}\0{payload}" if purpose else payload
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
