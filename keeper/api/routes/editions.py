from __future__ import annotations

from fastapi import Request, Response, status

from keeper.api.access import PUBLIC, Admin
from keeper.api.deps import OrgDep, PageDep, ProductDep, SessionDep, link_next
from keeper.api.present import edition_public, history_entry
from keeper.api.routing import api_router
from keeper.api.schemas import (
    EditionCreate,
    EditionPublic,
    EditionUpdate,
    HistoryEntry,
    RollbackRequest,
)
from keeper.services import editions
from keeper.services.lookup import get_edition

router = api_router(prefix="/orgs/{org}/products/{product}/editions", tags=["editions"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_edition(
    o: OrgDep,
    p: ProductDep,
    body: EditionCreate,
    session: SessionDep,
    who: Admin,
) -> EditionPublic:
    edition = editions.create_edition(session, p, actor=who.label, **body.model_dump())
    return edition_public(session, o, p, edition)


@router.get("", dependencies=[PUBLIC])
def list_editions(
    o: OrgDep,
    p: ProductDep,
    session: SessionDep,
    page: PageDep,
    request: Request,
    response: Response,
) -> list[EditionPublic]:
    result = editions.list_editions(session, p, page)
    link_next(request, response, result)
    return [edition_public(session, o, p, e) for e in result.items]


@router.get("/{edition}", dependencies=[PUBLIC])
def get_edition_(
    o: OrgDep, p: ProductDep, edition: str, session: SessionDep
) -> EditionPublic:
    return edition_public(session, o, p, get_edition(session, p, edition))


@router.patch("/{edition}")
def update_edition(
    o: OrgDep,
    p: ProductDep,
    edition: str,
    body: EditionUpdate,
    session: SessionDep,
    who: Admin,
) -> EditionPublic:
    row = editions.update_edition(
        session,
        p,
        get_edition(session, p, edition),
        body.model_dump(exclude_unset=True),
        actor=who.label,
    )
    return edition_public(session, o, p, row)


@router.delete("/{edition}", status_code=status.HTTP_204_NO_CONTENT)
def delete_edition(p: ProductDep, edition: str, session: SessionDep, _: Admin) -> None:
    editions.delete_edition(session, get_edition(session, p, edition))


@router.get("/{edition}/history", dependencies=[PUBLIC])
def edition_history(
    o: OrgDep,
    p: ProductDep,
    edition: str,
    session: SessionDep,
    page: PageDep,
    request: Request,
    response: Response,
) -> list[HistoryEntry]:
    result = editions.edition_history(session, get_edition(session, p, edition), page)
    link_next(request, response, result)
    return [history_entry(h) for h in result.items]


@router.post("/{edition}/rollback")
def rollback_edition(
    o: OrgDep,
    p: ProductDep,
    edition: str,
    body: RollbackRequest,
    session: SessionDep,
    who: Admin,
) -> EditionPublic:
    row = editions.rollback_edition(
        session, p, get_edition(session, p, edition), body.build, actor=who.label
    )
    return edition_public(session, o, p, row)
