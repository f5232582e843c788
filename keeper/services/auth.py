"""Tokens and the rules of who may do what."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from keeper.db import Organization, Role, Token
from keeper.db.types import utcnow
from keeper.domain.limits import MAX_TOKEN_DAYS
from keeper.services.errors import Forbidden, Invalid, Unauthorized

TOKEN_PREFIX = "ltd_"
#: last_used is refreshed at most this often, so that reads do not turn
#: every request into a database write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's role and the org it belongs to."""

    token_id: int
    role: Role
    org_id: int | None
    name: str
    #: Tells this token apart from a later one given the same id (SQLite
    #: reuses the highest id once its row is deleted): what a sealed
    #: session names besides the id (:func:`authenticate_token_id`).
    fingerprint: str = ""

    @property
    def label(self) -> str:
        return self.name or f"token {self.token_id}"


def hash_token(secret: str) -> str:
    # Tokens are 256-bit random strings, so a plain digest is enough:
    # there is nothing to brute-force that a slow hash would protect.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session,
    *,
    role: Role,
    org: Organization | None,
    name: str = "",
    expires: datetime | None = None,
    secret: str | None = None,
) -> tuple[Token, str]:
    """Store a new token; returns the row and the secret (shown only once)."""
    if role is Role.superadmin and org is not None:
        raise Invalid("a superadmin token belongs to no organization")
    if role is not Role.superadmin and org is None:
        raise Invalid(f"a {role.value} token needs an organization")
    if expires is not None:
        check_expiry(expires)
    secret = secret or new_token_secret()
    token = Token(
        token_hash=hash_token(secret),
        hint=secret[:8],
        name=name,
        role=role,
        org_id=org.id if org else None,
        expires=expires,
    )
    session.add(token)
    session.flush()
    return token, secret


def check_expiry(expires: datetime, now: datetime | None = None) -> None:
    """A new token's expiry lies in the future, and at most
    :data:`MAX_TOKEN_DAYS` ahead."""
    now = now or utcnow()
    if expires.tzinfo is None:
        raise Invalid("expires needs a time zone, such as Z for UTC")
    if expires <= now:
        raise Invalid(
            f"expires must lie in the future; {expires.isoformat()} has passed"
        )
    if expires - now > timedelta(days=MAX_TOKEN_DAYS):
        raise Invalid(
            f"expires may lie at most {MAX_TOKEN_DAYS} days ahead; leave it "
            "out for a token that does not expire"
        )


def ensure_bootstrap_token(session: Session, secret: str) -> None:
    """Make ``secret`` a valid superadmin token (idempotent)."""
    digest = hash_token(secret)
    if session.exec(select(Token).where(Token.token_hash == digest)).first():
        return
    create_token(
        session, role=Role.superadmin, org=None, name="bootstrap", secret=secret
    )


def authenticate(session: Session, secret: str) -> Principal:
    token = session.exec(
        select(Token).where(Token.token_hash == hash_token(secret))
    ).first()
    return _admit(session, token)


def authenticate_token_id(
    session: Session, token_id: int, fingerprint: str
) -> Principal:
    """The principal of a token already proven by other means (a sealed
    session that names it); refused like any other once it expires or is
    revoked, and never taken for a later token that reuses its id."""
    token = session.get(Token, token_id)
    if token is not None and token_fingerprint(token) != fingerprint:
        token = None
    return _admit(session, token)


def token_fingerprint(token: Token) -> str:
    # 64 bits of the secret's digest: unique among tokens for all purposes,
    # and of no use to anyone who reads it (the digest is not the secret).
    return token.token_hash[:16]


def _admit(session: Session, token: Token | None) -> Principal:
    now = utcnow()
    if token is None or token.id is None:
        raise Unauthorized("the token is not valid")
    if token.expires is not None and token.expires <= now:
        raise Unauthorized("the token has expired")
    if token.last_used is None or now - token.last_used > _LAST_USED_RESOLUTION:
        token.last_used = now
        session.add(token)
        session.commit()
    return Principal(
        token_id=token.id,
        role=Role(token.role),
        org_id=token.org_id,
        name=token.name,
        fingerprint=token_fingerprint(token),
    )


def authorize(
    principal: Principal | None, org: Organization | None, needed: Role
) -> Principal:
    """Raise unless ``principal`` holds ``needed`` (or more) within ``org``.

    ``org=None`` means a platform-wide action that only a superadmin may take.
    """
    if principal is None:
        raise Unauthorized("this action needs a token (Authorization: Bearer …)")
    if principal.role is Role.superadmin:
        return principal
    if org is None or principal.org_id != org.id:
        raise Forbidden("the token does not belong to this organization")
    if not principal.role.grants(needed):
        raise Forbidden(
            f"the token's role {principal.role.value!r} cannot do this; "
            f"{needed.value!r} is needed"
        )
    return principal
