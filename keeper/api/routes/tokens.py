from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel

from keeper.api.deps import PrincipalDep, SessionDep
from keeper.api.schemas import TokenCreate
from keeper.db import Role
from keeper.services.auth import authorize, create_token
from keeper.services.errors import Forbidden
from keeper.services.lookup import get_org

router = APIRouter(prefix="/orgs/{org}/tokens", tags=["tokens"])


class TokenCreated(BaseModel):
    token: str
    role: str
    name: str


@router.post("", status_code=status.HTTP_201_CREATED)
def create_org_token(
    org: str, body: TokenCreate, session: SessionDep, principal: PrincipalDep
) -> TokenCreated:
    row = get_org(session, org)
    authorize(principal, row, Role.admin)
    if body.role is Role.superadmin:
        raise Forbidden("superadmin tokens are made with 'keeper token create'")
    token, secret = create_token(
        session, role=body.role, org=row, name=body.name, expires=body.expires
    )
    session.commit()
    return TokenCreated(token=secret, role=token.role, name=token.name)
