"""Keeper's own signed upload URLs, for stores that cannot presign.

A URL carries the org, the object key, the declared size and an expiry,
signed with HMAC-SHA256; holding the URL is the permission to PUT there.
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

from keeper.services.errors import Forbidden


@dataclass(frozen=True)
class UploadGrant:
    org: str
    key: str
    size: int
    expires: int


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

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())


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
