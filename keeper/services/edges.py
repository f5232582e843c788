"""Edges run by ``keeper edge agent`` on other hosts: recording one, the
configuration it fetches, and what it reports back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlmodel import Session, select

from keeper.db import EdgeConfig, Organization, Product
from keeper.db.types import utcnow
from keeper.edge.configs import context, find_edge, parse_listen, publish_seqs
from keeper.edge.render import target
from keeper.services.builds.materialize import (
    queue_materialization,
    unmaterialized,
)
from keeper.services.errors import Conflict, Invalid, NotFound, NotReady
from keeper.services.runtime import Runtime

#: Targets an agent can run: a server on its host, with files to reload.
AGENT_TARGETS = ("nginx", "varnish")


@dataclass(frozen=True)
class AgentConfig:
    #: Changes exactly when a file changes (the ETag).
    version: str
    #: Product id → ``publish_seq`` of the state the files show; the agent
    #: reports it back once it applied them.
    seqs: dict[str, int]
    files: dict[str, str]


def record_agent_edge(
    session: Session,
    org: Organization,
    *,
    target_name: str,
    listen: str,
    out_dir: str,
    settings: dict[str, Any],
) -> EdgeConfig:
    if target_name not in AGENT_TARGETS:
        raise Invalid(f"an agent runs {' or '.join(AGENT_TARGETS)}, not {target_name}")
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    if not PurePosixPath(out_dir).is_absolute():
        raise Invalid(f"out must be an absolute path on the agent's host: {out_dir!r}")
    taken = find_edge(session, org, target_name, out_dir)
    if taken is not None:
        raise Conflict(
            f"edge {taken.id} already writes {target_name} files to {out_dir}"
        )
    edge = EdgeConfig(
        org_id=org.id or 0,
        target=target_name,
        out_dir=out_dir,
        listen=listen,
        settings=settings,
        agent=True,
    )
    session.add(edge)
    session.flush()
    # It reads builds as plain files: those published so far become so.
    queue_materialization(session, org)
    return edge


def forget(session: Session, edge: EdgeConfig) -> None:
    """Stop keeping the edge current: its files and server are left alone,
    and its editions no longer wait for it."""
    session.delete(edge)


def get_edge(session: Session, org: Organization, edge_id: int) -> EdgeConfig:
    edge = session.get(EdgeConfig, edge_id)
    if edge is None or edge.org_id != org.id:
        raise NotFound(f"no edge {edge_id} in organization {org.slug!r}")
    return edge


def agent_config(
    session: Session, runtime: Runtime, org: Organization, edge: EdgeConfig
) -> AgentConfig:
    """The files of ``edge`` as the org stands now (rendered, never written
    here)."""
    if not edge.agent:
        raise Conflict(
            f"edge {edge.id} is written by keeper itself (keeper edge render); "
            "record an agent's edge with POST /api/orgs/{org}/edges"
        )
    if unmaterialized(session, org):
        raise NotReady(
            "the org's builds are still being written as plain files for this "
            "edge; keep the current configuration and ask again shortly"
        )
    seqs = publish_seqs(session, org)
    files = target(edge.target).render(context(session, runtime, org, edge))
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return AgentConfig(version=digest[:32], seqs=seqs, files=files)


def report(
    session: Session,
    org: Organization,
    edge: EdgeConfig,
    *,
    applied: dict[str, int],
    error: str | None,
) -> list[int]:
    """Record what the agent applied (or why it could not); returns the
    products whose editions may now be published."""
    edge.last_error = error
    edge.updated = utcnow()
    products: list[int] = []
    if error is None:
        ours = {
            str(pid)
            for pid in session.exec(
                select(Product.id).where(Product.org_id == org.id)
            ).all()
        }
        # Only this org's products, and never backwards: an agent reporting
        # an old state late must not undo a newer report.
        merged = dict(edge.applied or {})
        for pid, seq in applied.items():
            if pid in ours and seq > merged.get(pid, -1):
                merged[pid] = seq
        edge.applied = merged
        products = [int(pid) for pid in merged]
    session.add(edge)
    return products
