from __future__ import annotations

from datetime import datetime

from fastapi import Request, Response, status
from pydantic import BaseModel

from keeper.api.access import Admin
from keeper.api.deps import OrgDep, PageDep, RowId, SessionDep, link_next
from keeper.api.routing import api_router
from keeper.api.schemas import TokenCreate
from keeper.db import Role, Token
from keeper.services import tokens
from keeper.services.auth import create_token
from keeper.services.errors import Forbidden

router = api_router(prefix="/orgs/{org}/tokens", tags=["tokens"])


class TokenPublic(BaseModel):
    """A token as listed: never its secret, nor the secret's digest."""

    id: int
    name: str
    role: str
    #: The secret's first characters (``ltd_`` and four more), to tell
    #: which token a CI variable holds.
    hint: str
    created: datetime
    last_used: datetime | None
    expires: datetime | None


class TokenCreated(TokenPublic):
    #: The secret; shown only in this answer.
    token: str


def _public(token: Token) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_org_token(
    row: OrgDep, body: TokenCreate, session: SessionDep, _: Admin
) -> TokenCreated:
    if body.role is Role.superadmin:
        raise Forbidden("superadmin tokens are made with 'keeper token create'")
    token, secret = create_token(
        session, role=body.role, org=row, name=body.name, expires=body.expires
    )
    return TokenCreated(token=secret, **_public(token).model_dump())


@router.get("")
def list_org_tokens(
    row: OrgDep,
    session: SessionDep,
    _: Admin,
    page: PageDep,
    request: Request,
    response: Response,
) -> list[TokenPublic]:
    """The org's tokens, oldest first; for its admins."""
    result = tokens.list_tokens(session, row, page)
    link_next(request, response, result)
    return [_public(t) for t in result.items]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_org_token(
    row: OrgDep,
    token_id: RowId,
    session: SessionDep,
    _: Admin,
) -> None:
    """Revoke a token: refused from the next request on, everywhere."""
    tokens.revoke_token(session, row, token_id)
