"""An organization's tokens: listing them and revoking one.

Revoking deletes the row. Every request looks its token up in the database
(:func:`keeper.services.auth.authenticate`), so the token is refused from
the next request on, by every keeper process sharing the database, and so
are the LTD Keeper 1.x sessions opened with it (they name the token and its
fingerprint, never a copy of its rights).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from keeper.db import Organization, Token
from keeper.services.errors import NotFound
from keeper.services.pagination import Page, PageResult, paginate


def list_tokens(session: Session, org: Organization, page: Page) -> PageResult[Any]:
    """The org's tokens, oldest first (superadmin tokens belong to no org
    and are never listed here)."""
    query = select(Token).where(Token.org_id == org.id)
    return paginate(session, query, Token.id, page)


def revoke_token(session: Session, org: Organization, token_id: int) -> Token:
    """Delete the org's token ``token_id``; returns the row as it was."""
    token = session.get(Token, token_id)
    if token is None or token.org_id != org.id:
        # Another org's token is as absent as one that never was.
        raise NotFound(f"no token {token_id} in organization {org.slug!r}")
    session.delete(token)
    session.flush()
    return token


def platform_tokens(session: Session, org: Organization | None) -> list[Token]:
    """Every token, or one org's, oldest first: what an operator sees with
    ``keeper token list`` (superadmin tokens included, which no org lists)."""
    query = select(Token).order_by(Token.id)  # type: ignore[arg-type]
    if org is not None:
        query = query.where(Token.org_id == org.id)
    return list(session.exec(query))


def revoke_any_token(session: Session, token_id: int) -> Token:
    """Delete token ``token_id`` whatever it belongs to (``keeper token
    revoke``: the way to stop a leaked superadmin token)."""
    token = session.get(Token, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    session.delete(token)
    session.flush()
    return token
