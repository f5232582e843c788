"""Reading the credentials a request carries in its headers."""

from __future__ import annotations

import base64
import binascii

from starlette.datastructures import Headers

from keeper.services.errors import Unauthorized


def bearer_secret(headers: Headers) -> str:
    """The token of ``Authorization: Bearer <token>``."""
    header = headers.get("authorization")
    if not header:
        raise Unauthorized("this action needs a token (Authorization: Bearer …)")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    return secret.strip()


def basic_or_bearer(headers: Headers) -> tuple[str, str | None]:
    """LTD Keeper 1.x credentials: ``(secret, username)``.

    The keeper token is the basic-auth password, or the username when the
    password is empty (how clients send a ``/token`` session back); a
    bearer token works too.
    """
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise Unauthorized("the basic credentials are malformed") from exc
        username, _, password = decoded.partition(":")
        if password:
            return password, username or None
        if username:
            return username, None
    raise Unauthorized(
        "use HTTP basic auth with a keeper token as the password "
        "(or a /token session as the username)"
    )
