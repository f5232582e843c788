"""Request-scoped dependencies: database session, runtime, paging.

Who is calling comes from :mod:`keeper.api.access`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keeper.domain.limits import MAX_ID
from keeper.services.pagination import Page, PageResult
from keeper.services.runtime import Runtime


def get_session(request: Request) -> Iterator[Session]:
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        yield session


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


SessionDep = Annotated[Session, Depends(get_session)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


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


def link_next(request: Request, response: Response, result: PageResult[object]) -> None:
    """Advertise the next page the way GitHub's API does."""
    if result.next_after is not None:
        url = request.url.include_query_params(after=result.next_after)
        response.headers["Link"] = f'<{url}>; rel="next"'
