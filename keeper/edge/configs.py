"""Rendered edge configurations: write them, record them, keep them current.

``keeper edge render`` writes an edge's files and records the edge; every
later change to what readers of the org see rewrites them and tells the
running server (:func:`refresh_edge`, run by the ``update_edges`` job of each
edge).
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import EdgeConfig, Organization, Product
from keeper.db.edge import written_edges
from keeper.db.types import utcnow
from keeper.edge.origin import origin_of
from keeper.edge.pages import platform_not_found
from keeper.edge.render import RenderContext, target
from keeper.edge.site import SpecialPages, load_org_sites
from keeper.services.edge_origin import origin_secret
from keeper.services.runtime import Runtime
from keeper.services.templates import org_overrides

log = logging.getLogger(__name__)
#: Shared by every render in the process (builds are immutable once complete).
_SPECIAL_PAGES = SpecialPages()


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen takes HOST:PORT, not {listen!r}")
    return host.strip("[]"), int(port)


def context(
    session: Session, runtime: Runtime, org: Organization, edge: EdgeConfig
) -> RenderContext:
    sites = load_org_sites(session, org)
    pages: dict[str, frozenset[str]] = {}
    for site in sites:
        pages.update(_SPECIAL_PAGES.of(session, site))
    host, port = parse_listen(edge.listen)
    templates = org_overrides(session, org.id)
    return RenderContext(
        org=org.slug,
        sites=sites,
        pages=pages,
        origin=origin_of(runtime.stores.for_org(org)),
        listen_host=host,
        listen_port=port,
        out_dir=Path(edge.out_dir),
        settings=dict(edge.settings or {}),
        platform_pages={
            s.product: platform_not_found(s, org_title=org.title, templates=templates)
            for s in sites
        },
        org_title=org.title,
        page_templates=templates,
        keeper_url=runtime.settings.base_url.rstrip("/"),
        origin_secret=origin_secret(runtime.signer, org.slug),
    )


def write_files(out_dir: Path, files: Mapping[str, str]) -> None:
    """Write every file whole: a reloading server never reads half of one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def render_edge(
    session: Session,
    runtime: Runtime,
    org: Organization,
    *,
    target_name: str,
    listen: str,
    out_dir: Path,
    settings: dict[str, Any],
) -> tuple[EdgeConfig, RenderContext]:
    """Write an edge's configuration and record it so publishes update it."""
    parse_listen(listen)
    edge_target = target(target_name)
    out = str(out_dir.resolve())
    edge = find_edge(session, org, target_name, out) or EdgeConfig(
        org_id=org.id or 0, target=target_name, out_dir=out, listen=listen
    )
    edge.listen = listen
    edge.settings = {**(edge.settings or {}), **settings}
    edge.updated = utcnow()
    seqs = publish_seqs(session, org)
    ctx = context(session, runtime, org, edge)
    with _edge_lock(ctx.out_dir):
        write_files(ctx.out_dir, edge_target.render(ctx))
    edge.last_error = None
    edge.applied = seqs
    session.add(edge)
    session.commit()
    return edge, ctx


def find_edge(
    session: Session, org: Organization, target_name: str, out_dir: str
) -> EdgeConfig | None:
    """The org's edge of ``target_name`` writing to ``out_dir`` (one each)."""
    return session.exec(
        select(EdgeConfig).where(
            EdgeConfig.org_id == org.id,
            EdgeConfig.target == target_name,
            EdgeConfig.out_dir == out_dir,
        )
    ).first()


def recorded_edges(session: Session, org: Organization | None) -> list[EdgeConfig]:
    query = select(EdgeConfig).order_by(col(EdgeConfig.id))
    if org is not None:
        query = query.where(EdgeConfig.org_id == org.id)
    return list(session.exec(query))


def forget_edge(
    session: Session, org: Organization, *, target_name: str, out_dir: Path
) -> bool:
    """Stop keeping an edge current; its files and server are left alone.
    Returns False when no such edge was recorded."""
    edge = find_edge(session, org, target_name, str(out_dir.resolve()))
    if edge is None:
        return False
    session.delete(edge)
    session.commit()
    return True


def refresh_edge(
    engine: Engine, runtime: Runtime, edge_id: int, changed: Sequence[int] = ()
) -> str | None:
    """Rewrite and reload one recorded edge (nginx, Varnish: its files and
    server; Fastly: its service through the API); returns the error, if
    any, also recorded on the edge's row.

    ``changed`` are the ids of products whose readers' view changed (their
    CDN keys are purged). The state is read in one short transaction; none
    is open while files are written, servers reload or Fastly answers.
    """
    with Session(engine) as session:
        edge = session.get(EdgeConfig, edge_id)
        if edge is None or edge.agent:  # gone; or an agent fetches its own
            return None
        out_dir = Path(edge.out_dir)
    # Two publishes finishing together must not let the first, reading the
    # older state, write its files after the second: one writer at a time
    # per edge (processes included), each reading the state once it holds
    # the lock, so the last writer always wrote the newest state.
    with _edge_lock(out_dir):
        error = None
        with Session(engine, expire_on_commit=False) as session:
            edge = session.get(EdgeConfig, edge_id)
            org = session.get(Organization, edge.org_id) if edge else None
            if edge is None or org is None:
                return None
            slugs = set(
                session.exec(
                    select(Product.slug).where(col(Product.id).in_(list(changed)))
                ).all()
            )
            seqs = publish_seqs(session, org)
            where = f"{edge.target} at {edge.out_dir}"
            try:
                edge_target = target(edge.target)
                ctx = context(session, runtime, org, edge)
            except Exception as exc:
                error = _failure(where, exc)
        if error is None:
            try:
                write_files(ctx.out_dir, edge_target.render(ctx))
                edge_target.activate(ctx, [s for s in ctx.sites if s.product in slugs])
            except Exception as exc:
                error = _failure(where, exc)
        with Session(engine) as session:
            edge = session.get(EdgeConfig, edge_id)
            if edge is None:
                return error
            edge.last_error = error
            if error is None:
                edge.applied = seqs
            edge.updated = utcnow()
            session.add(edge)
            session.commit()
        return error


def org_edges(engine: Engine, org_id: int) -> list[int]:
    with Session(engine) as session:
        return written_edges(session, org_id)


def _failure(where: str, exc: Exception) -> str:
    log.exception("updating the %s edge failed", where)
    return f"{where}: {type(exc).__name__}: {exc}"


def publish_seqs(session: Session, org: Organization) -> dict[str, int]:
    """Product id → ``publish_seq``, read before the state is rendered: what
    an edge records as applied is never newer than what it wrote."""
    rows = session.exec(
        select(Product.id, Product.publish_seq).where(Product.org_id == org.id)
    ).all()
    return {str(pid): seq for pid, seq in rows}


@contextmanager
def _edge_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".keeper.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
