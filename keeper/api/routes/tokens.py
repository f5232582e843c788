from __future__ import annotations

from fastapi import status
from pydantic import BaseModel

from keeper.api.access import Admin
from keeper.api.deps import SessionDep
from keeper.api.routing import api_router
from keeper.api.schemas import TokenCreate
from keeper.db import Role
from keeper.services.auth import create_token
from keeper.services.errors import Forbidden
from keeper.services.lookup import get_org

router = api_router(prefix="/orgs/{org}/tokens", tags=["tokens"])


class TokenCreated(BaseModel):
    token: str
    role: str
    name: str


@router.post("", status_code=status.HTTP_201_CREATED)
def create_org_token(
    org: str, body: TokenCreate, session: SessionDep, _: Admin
) -> TokenCreated:
    row = get_org(session, org)
    if body.role is Role.superadmin:
        raise Forbidden("superadmin tokens are made with 'keeper token create'")
    token, secret = create_token(
        session, role=body.role, org=row, name=body.name, expires=body.expires
    )
    session.commit()
    return TokenCreated(token=secret, role=token.role, name=token.name)
