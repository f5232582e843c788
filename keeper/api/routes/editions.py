from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlmodel import select

from keeper.api.deps import PageDep, PrincipalDep, SessionDep, link_next
from keeper.api.present import edition_public, history_entry
from keeper.api.schemas import (
    EditionCreate,
    EditionPublic,
    EditionUpdate,
    HistoryEntry,
    RollbackRequest,
)
from keeper.db import Edition, EditionHistory, Role
from keeper.services import editions
from keeper.services.auth import authorize
from keeper.services.lookup import get_edition, get_org, get_product
from keeper.services.pagination import paginate

router = APIRouter(prefix="/orgs/{org}/products/{product}/editions", tags=["editions"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_edition(
    org: str,
    product: str,
    body: EditionCreate,
    session: SessionDep,
    principal: PrincipalDep,
) -> EditionPublic:
    o = get_org(session, org)
    who = authorize(principal, o, Role.admin)
    p = get_product(session, o, product)
    edition = editions.create_edition(session, p, actor=who.label, **body.model_dump())
    return edition_public(session, o, p, edition)


@router.get("")
def list_editions(
    org: str,
    product: str,
    session: SessionDep,
    page: PageDep,
    request: Request,
    response: Response,
) -> list[EditionPublic]:
    o = get_org(session, org)
    p = get_product(session, o, product)
    result = paginate(
        session, select(Edition).where(Edition.product_id == p.id), Edition.id, page
    )
    link_next(request, response, result)
    return [edition_public(session, o, p, e) for e in result.items]


@router.get("/{edition}")
def get_edition_(
    org: str, product: str, edition: str, session: SessionDep
) -> EditionPublic:
    o = get_org(session, org)
    p = get_product(session, o, product)
    return edition_public(session, o, p, get_edition(session, p, edition))


@router.patch("/{edition}")
def update_edition(
    org: str,
    product: str,
    edition: str,
    body: EditionUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> EditionPublic:
    o = get_org(session, org)
    who = authorize(principal, o, Role.admin)
    p = get_product(session, o, product)
    row = editions.update_edition(
        session,
        p,
        get_edition(session, p, edition),
        body.model_dump(exclude_unset=True),
        actor=who.label,
    )
    return edition_public(session, o, p, row)


@router.delete("/{edition}", status_code=status.HTTP_204_NO_CONTENT)
def delete_edition(
    org: str, product: str, edition: str, session: SessionDep, principal: PrincipalDep
) -> None:
    o = get_org(session, org)
    authorize(principal, o, Role.admin)
    p = get_product(session, o, product)
    editions.delete_edition(session, get_edition(session, p, edition))


@router.get("/{edition}/history")
def edition_history(
    org: str,
    product: str,
    edition: str,
    session: SessionDep,
    page: PageDep,
    request: Request,
    response: Response,
) -> list[HistoryEntry]:
    o = get_org(session, org)
    row = get_edition(session, get_product(session, o, product), edition)
    query = select(EditionHistory).where(EditionHistory.edition_id == row.id)
    result = paginate(session, query, EditionHistory.id, page)
    link_next(request, response, result)
    return [history_entry(h) for h in result.items]


@router.post("/{edition}/rollback")
def rollback_edition(
    org: str,
    product: str,
    edition: str,
    body: RollbackRequest,
    session: SessionDep,
    principal: PrincipalDep,
) -> EditionPublic:
    o = get_org(session, org)
    who = authorize(principal, o, Role.admin)
    p = get_product(session, o, product)
    row = editions.rollback_edition(
        session, p, get_edition(session, p, edition), body.build, actor=who.label
    )
    return edition_public(session, o, p, row)
