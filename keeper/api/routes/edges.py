"""Edges on other hosts: recorded by an admin, run by ``keeper edge agent``,
which fetches its configuration here and reports what it applied."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Header, Request, Response, status
from pydantic import BaseModel, Field

from keeper.api.access import Admin, EdgeAgent
from keeper.api.deps import OrgDep, RowId, RuntimeDep, SessionDep
from keeper.api.routing import api_router
from keeper.api.schemas import SettingsJson, Strict
from keeper.db import EdgeConfig
from keeper.edge.configs import recorded_edges
from keeper.jobs.publish_status import settle, settle_org
from keeper.services import edges

router = api_router(prefix="/orgs/{org}/edges", tags=["edges"])


class EdgePublic(BaseModel):
    id: int
    target: str
    listen: str
    #: Where the files are written: keeper's folder for an edge keeper
    #: writes itself, the agent's folder on its host for an agent's edge.
    out_dir: str
    agent: bool
    #: Why its last update failed, or None.
    last_error: str | None
    #: Product id → the publish sequence it last applied.
    applied: dict[str, int]
    updated: datetime


class EdgeCreate(Strict):
    target: Literal["nginx", "varnish"]
    #: ``HOST:PORT`` the server listens on.
    listen: str = Field(max_length=255, pattern=r"^\S+:\d{1,5}$")
    #: The folder the agent writes the files to, on its own host.
    out: str = Field(min_length=1, max_length=1000, pattern=r"^/")
    settings: SettingsJson = Field(default_factory=dict)


class AgentConfigBody(BaseModel):
    version: str
    target: str
    #: The folder the files name (nginx's prefix …): the agent writes there.
    out_dir: str
    settings: dict[str, Any]
    seqs: dict[str, int]
    #: Every file, by path relative to ``out_dir``.
    files: dict[str, str]


class AgentReport(Strict):
    #: The ``version`` of the configuration the agent applied or failed on.
    version: str = Field(max_length=64)
    #: The ``seqs`` that came with it (when it was applied).
    applied: dict[
        Annotated[str, Field(pattern=r"^\d{1,10}$")],
        Annotated[int, Field(ge=0, le=2**62)],
    ] = Field(default_factory=dict, max_length=100_000)
    #: Why it could not be applied (validation, reload), or None.
    error: str | None = Field(default=None, max_length=4000)


def _public(edge: EdgeConfig) -> EdgePublic:
    assert edge.id is not None
    return EdgePublic(
        id=edge.id,
        target=edge.target,
        listen=edge.listen,
        out_dir=edge.out_dir,
        agent=edge.agent,
        last_error=edge.last_error,
        applied=dict(edge.applied or {}),
        updated=edge.updated,
    )


@router.get("")
def list_edges(row: OrgDep, session: SessionDep, _: Admin) -> list[EdgePublic]:
    """Every recorded edge of the org: rendered by keeper or run by an agent."""
    return [_public(e) for e in recorded_edges(session, row)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_edge(
    row: OrgDep, body: EdgeCreate, session: SessionDep, _: Admin
) -> EdgePublic:
    """Record an edge that ``keeper edge agent`` runs on another host."""
    edge = edges.record_agent_edge(
        session,
        row,
        target_name=body.target,
        listen=body.listen,
        out_dir=body.out,
        settings=body.settings,
    )
    return _public(edge)


@router.delete("/{edge_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_edge(
    row: OrgDep, edge_id: RowId, session: SessionDep, request: Request, _: Admin
) -> None:
    """Forget an edge (keeper's or an agent's): nothing is written for it
    any more, and editions no longer wait for it to be published."""
    edges.forget(session, edges.get_edge(session, row, edge_id))
    session.commit()
    assert row.id is not None
    settle_org(request.app.state.engine, row.id)


@router.get(
    "/{edge_id}/config",
    responses={304: {"description": "unchanged since the ETag given"}},
)
def get_edge_config(
    row: OrgDep,
    edge_id: RowId,
    session: SessionDep,
    runtime: RuntimeDep,
    _: EdgeAgent,
    response: Response,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """The edge's files as the org stands now; 304 when they are those of
    the ETag in ``If-None-Match``."""
    edge = edges.get_edge(session, row, edge_id)
    config = edges.agent_config(session, runtime, row, edge)
    etag = f'"{config.version}"'
    if if_none_match == etag:
        return Response(
            status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag}
        )
    response.headers["ETag"] = etag
    return AgentConfigBody(
        version=config.version,
        target=edge.target,
        out_dir=edge.out_dir,
        settings=dict(edge.settings or {}),
        seqs=config.seqs,
        files=config.files,
    )


@router.post("/{edge_id}/status", status_code=status.HTTP_204_NO_CONTENT)
def report_edge_status(
    row: OrgDep,
    edge_id: RowId,
    body: AgentReport,
    session: SessionDep,
    request: Request,
    _: EdgeAgent,
) -> None:
    """What the agent applied (its editions may now be published), or why
    it could not."""
    products = edges.report(
        session,
        row,
        edges.get_edge(session, row, edge_id),
        applied=body.applied,
        error=body.error,
    )
    session.commit()
    settle(request.app.state.engine, products)
