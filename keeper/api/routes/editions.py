from __future__ import annotations

from fastapi import Request, Response, status
from sqlmodel import select

from keeper.api.access import PUBLIC, Admin
from keeper.api.deps import PageDep, SessionDep, link_next
from keeper.api.present import edition_public, history_entry
from keeper.api.routing import api_router
from keeper.api.schemas import (
    EditionCreate,
    EditionPublic,
    EditionUpdate,
    HistoryEntry,
    RollbackRequest,
)
from keeper.db import Edition, EditionHistory
from keeper.services import editions
from keeper.services.lookup import get_edition, get_org, get_product
from keeper.services.pagination import paginate

router = api_router(prefix="/orgs/{org}/products/{product}/editions", tags=["editions"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_edition(
    org: str,
    product: str,
    body: EditionCreate,
    session: SessionDep,
    who: Admin,
) -> EditionPublic:
    o = get_org(session, org)
    p = get_product(session, o, product)
    edition = editions.create_edition(session, p, actor=who.label, **body.model_dump())
    return edition_public(session, o, p, edition)


@router.get("", dependencies=[PUBLIC])
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


@router.get("/{edition}", dependencies=[PUBLIC])
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
    who: Admin,
) -> EditionPublic:
    o = get_org(session, org)
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
    org: str, product: str, edition: str, session: SessionDep, _: Admin
) -> None:
    o = get_org(session, org)
    p = get_product(session, o, product)
    editions.delete_edition(session, get_edition(session, p, edition))


@router.get("/{edition}/history", dependencies=[PUBLIC])
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
    who: Admin,
) -> EditionPublic:
    o = get_org(session, org)
    p = get_product(session, o, product)
    row = editions.rollback_edition(
        session, p, get_edition(session, p, edition), body.build, actor=who.label
    )
    return edition_public(session, o, p, row)
