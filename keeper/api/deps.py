"""Request-scoped dependencies: the unit of work, the runtime, the
resources a path names, paging.

Who is calling comes from :mod:`keeper.api.access`, which decides 401,
403 and 404 for the path's org before any of these run (see its
docstring); :data:`OrgDep` and :data:`ProductDep` then load what the path
names, or answer 404 naming what is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keeper.db import Organization, Product
from keeper.domain.limits import MAX_ID
from keeper.services.lookup import get_org, get_product
from keeper.services.pagination import Page, PageResult
from keeper.services.runtime import Runtime


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work. Services change rows and flush; this
    commits once, when the route has returned and before the response is
    sent, so what a client is told happened has happened. A route that
    raises commits nothing: no request leaves half its changes.

    Jobs the services queued are rows of this same transaction (see
    :mod:`keeper.jobs.queue`), so they exist exactly when the change does.
    """
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


def get_engine(request: Request) -> Engine:
    """For the few use cases that are several units of work (a 1.x
    confirmation verifies its build within the request)."""
    engine: Engine = request.app.state.engine
    return engine


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


#: ``scope="function"``: the commit runs before the response is sent, and
#: a failed commit is the client's error response, never a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
EngineDep = Annotated[Engine, Depends(get_engine)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def path_org(
    org: Annotated[str, Path(description="the organization's slug")],
    session: SessionDep,
) -> Organization:
    return get_org(session, org)


#: The organization ``{org}`` names (404 if there is none).
OrgDep = Annotated[Organization, Depends(path_org)]


def path_product(
    product: Annotated[str, Path(description="the product's slug")],
    org: OrgDep,
    session: SessionDep,
) -> Product:
    return get_product(session, org, product)


#: The product ``{product}`` names in ``{org}`` (404 if there is none).
ProductDep = Annotated[Product, Depends(path_product)]


def get_page(
    request: Request,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="items per page; more than the server's maximum "
            "(KEEPER_MAX_PAGE_SIZE) gives that maximum",
        ),
    ] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="cursor")] = None,
) -> Page:
    settings = request.app.state.runtime.settings
    # Clamped rather than refused, as GitHub's per_page is: a client asking
    # for everything gets the most the server gives, and the Link header.
    size = min(limit or settings.default_page_size, settings.max_page_size)
    return Page(limit=size, after=after)


PageDep = Annotated[Page, Depends(get_page)]

#: A row's id in a path (a token's, a job's, an edge's): ids are PostgreSQL
#: int4, so a larger number is a 422, never a 500.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def link_next(request: Request, response: Response, result: PageResult[Any]) -> None:
    """Advertise the next page the way GitHub's API does."""
    if result.next_after is not None:
        url = request.url.include_query_params(after=result.next_after)
        response.headers["Link"] = f'<{url}>; rel="next"'
