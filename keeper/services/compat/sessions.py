"""``GET /token`` sessions, and who is calling the 1.x routes.

LTD Keeper 1.x trades a username and password for a short-lived token,
which the client then sends as the basic-auth username with an empty
password. Here the password is one of keeper's own tokens; the session
token seals which one (and the username given), so deleting or expiring
that keeper token ends its sessions too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlmodel import Session

from keeper.services.auth import Principal, authenticate, authenticate_token_id
from keeper.services.errors import Unauthorized
from keeper.services.runtime import Runtime

SESSION_PREFIX = "ltds_"
_PURPOSE = "ltd-session"
#: Outlives a long upload: the session is still needed to confirm the
#: build once every file is in.
_SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Caller:
    principal: Principal
    #: The username given to ``GET /token``; unverified, kept for the record.
    username: str | None = None

    @property
    def label(self) -> str:
        who = self.principal.label
        return f"{self.username} ({who})" if self.username else who


def open_session(runtime: Runtime, caller: Caller) -> str:
    """A session token for the keeper token ``caller`` authenticated with."""
    expires = int(time.time()) + _SESSION_SECONDS
    sealed = runtime.signer.seal(
        _PURPOSE,
        [
            caller.principal.token_id,
            caller.principal.fingerprint,
            caller.username or "",
            expires,
        ],
    )
    return SESSION_PREFIX + sealed


def identify(session: Session, runtime: Runtime, secret: str) -> Caller:
    """The caller behind a session token, or behind a keeper token itself."""
    if not secret.startswith(SESSION_PREFIX):
        return Caller(authenticate(session, secret))
    try:
        # Sessions sealed before the fingerprint was added do not unpack:
        # they are refused, and the client gets a new one from /token.
        token_id, fingerprint, username, expires = runtime.signer.unseal(
            _PURPOSE, secret.removeprefix(SESSION_PREFIX)
        )
    except ValueError as exc:
        raise Unauthorized("the session token is not valid; get one at /token") from exc
    if time.time() > expires:
        raise Unauthorized("the session token has expired; get one from /token")
    principal = authenticate_token_id(session, token_id, fingerprint)
    return Caller(principal, username or None)
