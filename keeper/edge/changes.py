"""Noticing, at commit, what this process's edge caches must forget.

The built-in edge keeps site views and the host map in memory
(:mod:`keeper.edge.cache`). A commit in this process that touched a
product or org drops what it cached of them at once; other processes see
the change when their cached copy ages out. Publishing itself (pages,
rendered edges) is never done here: the change names its jobs
(:mod:`keeper.jobs.follow`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keeper.db import Build, Edition, Organization, Product

log = logging.getLogger(__name__)


@dataclass
class Touched:
    products: set[int] = field(default_factory=set)
    orgs: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.products or self.orgs)


Listener = Callable[[Engine, Touched], None]
_listeners: weakref.WeakKeyDictionary[Engine, list[Listener]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()
_KEY = "keeper.edge.touched"


def on_commit(engine: Engine, listener: Listener) -> None:
    """Call ``listener`` after every commit on ``engine`` that changed what
    readers see."""
    with _lock:
        _listeners.setdefault(engine, []).append(listener)


def _touched(session: Session) -> Touched:
    found: Touched = session.info.setdefault(_KEY, Touched())
    return found


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _context: Any, _instances: Any) -> None:
    touched = _touched(session)
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, Edition | Build):
            touched.products.add(row.product_id)
        elif isinstance(row, Product) and row.id is not None:
            touched.products.add(row.id)
            touched.orgs.add(row.org_id)
        elif isinstance(row, Product):
            touched.orgs.add(row.org_id)
        elif isinstance(row, Organization) and row.id is not None:
            touched.orgs.add(row.id)


@event.listens_for(Session, "after_commit")
def _notify(session: Session) -> None:
    touched = session.info.pop(_KEY, None)
    if not touched:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _lock:
        listeners = list(_listeners.get(engine, ()))
    for listener in listeners:
        try:
            listener(engine, touched)
        except Exception:  # an edge must never undo or fail a commit
            log.exception("refreshing the edges failed")


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)
