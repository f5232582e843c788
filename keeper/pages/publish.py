"""Writing a product's generated pages to its org's store.

Every edge serves them from ``<product>/_meta/`` like any object, so they
are rewritten by a job after each change to what the product's readers see
(:mod:`keeper.jobs.follow`). Each object is replaced whole; a page whose
bytes did not change is left alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keeper.db import Organization, Product
from keeper.domain.content_types import content_type_for
from keeper.edge.site import meta_prefix
from keeper.pages.budget import RendererUnavailable
from keeper.pages.listing import load_listing
from keeper.pages.render import product_pages
from keeper.services.runtime import Runtime
from keeper.services.templates import org_overrides
from keeper.storage.base import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)
#: Rounds of write-then-check before giving up on a product that keeps
#: changing (the next commit writes it again anyway).
_ROUNDS = 5
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def write_pages(engine: Engine, runtime: Runtime, product_id: int) -> int | None:
    """Render and store one product's pages; returns the ``publish_seq``
    whose state they show, or None if the product no longer exists.

    Two processes may write the same product at once, and the one that read
    older state may write last. So after writing, the state is read again;
    if the pages would now differ they are written again, until what was
    written last matches what the database says.
    """
    with _lock_for(product_id):
        written: Mapping[str, bytes] | None = None
        written_seq = 0
        for _ in range(_ROUNDS):
            found = _render(engine, runtime, product_id)
            if found is None:
                return None
            store, prefix, pages, seq = found
            if pages == written:
                return seq
            for name, data in pages.items():
                _put_if_changed(store, prefix + name, data)
            written, written_seq = pages, seq
        log.warning("pages of product %s kept changing while written", product_id)
        return written_seq


def write_all_pages(
    engine: Engine,
    runtime: Runtime,
    product_ids: Iterable[int] | None = None,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Write the pages of the given products (all when None); returns how
    many were written. A failing product is logged and skipped. ``stop``
    ends the work between two products (keeper is shutting down)."""
    if product_ids is None:
        with Session(engine) as session:
            product_ids = [
                p for p in session.exec(select(Product.id)).all() if p is not None
            ]
    done = 0
    for product_id in product_ids:
        if stop is not None and stop.is_set():
            log.info("stopped writing pages after %d product(s)", done)
            break
        try:
            done += write_pages(engine, runtime, product_id) is not None
        except RendererUnavailable as exc:
            # Keeper is stopping; the next start writes them (see app.py).
            log.warning("the pages of product %s were not written: %s", product_id, exc)
        except Exception:  # one product's store must not stop the others
            log.exception("writing the pages of product %s failed", product_id)
    return done


def _render(
    engine: Engine, runtime: Runtime, product_id: int
) -> tuple[ObjectStore, str, dict[str, bytes], int] | None:
    with Session(engine) as session:
        product = session.get(Product, product_id)
        org = session.get(Organization, product.org_id) if product else None
        if product is None or org is None:
            return None
        seq = product.publish_seq
        listing = load_listing(session, org, product)
        overrides = org_overrides(session, org.id)
        store = runtime.stores.for_org(org)
    # No session is open while the org's templates render (up to their
    # budget): a slow template must not hold a database connection.
    return store, meta_prefix(product.slug), product_pages(listing, overrides), seq


def _put_if_changed(store: ObjectStore, key: str, data: bytes) -> None:
    try:
        if store.get(key) == data:
            return
    except ObjectNotFound:
        pass
    store.put(key, data, content_type=content_type_for(key))


def _lock_for(product_id: int) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(product_id, threading.Lock())
