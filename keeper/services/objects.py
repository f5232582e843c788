"""The ledger of a product's stored objects (``stored_object`` rows).

Three parties touch an object: a registration that tells a client the
product already holds it, a verification that places new bytes, and
garbage collection that deletes what no build references. They agree
through the rows alone, so that an object a client was told is held is
never deleted under it:

- a registration *claims* held objects (``claimed`` = now) in the same
  transaction that records the build files referencing them;
- garbage collection first marks an object ``deleting`` (only if present,
  unreferenced and claimed before its grace period), commits, deletes the
  bytes, then the row; on PostgreSQL the claim and the mark lock the same
  row, so whichever commits second sees the other's change;
- a verification places bytes, then records the row ``present``; an
  object still being deleted is placed again later (the job retries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from keeper.db import ObjectState, Product, StoredObject
from keeper.db.batches import in_batches
from keeper.db.types import pk, utcnow
from keeper.jobs.kinds import COLLECT_GARBAGE
from keeper.jobs.queue import enqueue
from keeper.services.runtime import Runtime
from keeper.storage import StorageError


class ObjectBeingCollected(StorageError):
    """Garbage collection is deleting an object a build needs: placing it
    again must wait until that is over (the job retries)."""


def claim_held(
    session: Session, product: Product, wanted: Mapping[str, int]
) -> set[str]:
    """The hashes of ``wanted`` (sha256 → size) that the product holds at
    that size; each is claimed now, so garbage collection keeps it for at
    least its grace period."""
    claimed = touch(session, product, wanted)
    return {sha for sha, size in claimed.items() if wanted[sha] == size}


def present(session: Session, product: Product, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` the product holds (nothing is claimed)."""
    found: set[str] = set()
    for chunk in in_batches(sorted(set(hashes))):
        found.update(
            session.exec(
                select(StoredObject.sha256).where(
                    StoredObject.product_id == pk(product),
                    col(StoredObject.sha256).in_(chunk),
                    StoredObject.state == ObjectState.present,
                )
            ).all()
        )
    return found


def record_placed(
    session: Session, product: Product, placed: Mapping[str, int]
) -> None:
    """Record objects whose bytes keeper has just placed and hashed
    (sha256 → size). Raises :class:`ObjectBeingCollected` if one of them
    is being deleted right now: its bytes may go, so it must be placed
    again once the deletion is over."""
    if not placed:
        return
    now = utcnow()
    rows = [
        {
            "product_id": pk(product),
            "sha256": sha,
            "size": size,
            "state": ObjectState.present.value,
            "claimed": now,
        }
        for sha, size in sorted(placed.items())
    ]
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for batch in in_batches(rows):
        statement = insert(StoredObject).values(batch)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["product_id", "sha256"],
                set_={"claimed": now},
                where=col(StoredObject.state) == ObjectState.present,
            )
        )
    doomed = [
        sha
        for chunk in in_batches(sorted(placed))
        for sha in session.exec(
            select(StoredObject.sha256).where(
                StoredObject.product_id == pk(product),
                col(StoredObject.sha256).in_(chunk),
                StoredObject.state == ObjectState.deleting,
            )
        )
    ]
    if doomed:
        raise ObjectBeingCollected(
            f"{len(doomed)} object(s) of the build are being garbage-collected "
            f"right now ({', '.join(doomed[:3])} …); placing them again later"
        )


def touch(session: Session, product: Product, hashes: Iterable[str]) -> dict[str, int]:
    """Start the grace period of those of ``hashes`` the product holds
    (claimed now); returns them with their sizes. Also what a deleted
    build's objects get: they stay a while, for an undo or a late reader."""
    now = utcnow()
    found: dict[str, int] = {}
    for chunk in in_batches(sorted(set(hashes))):
        rows = session.execute(
            update(StoredObject)
            .where(
                col(StoredObject.product_id) == pk(product),
                col(StoredObject.sha256).in_(chunk),
                col(StoredObject.state) == ObjectState.present,
            )
            .values(claimed=now)
            .returning(col(StoredObject.sha256), col(StoredObject.size))
            .execution_options(synchronize_session=False)
        )
        found.update({sha: size for sha, size in rows})
    return found


def schedule_collection(
    session: Session, runtime: Runtime, product: Product, after: timedelta | None = None
) -> None:
    """Queue the product's collection, by default a grace period from now
    (a waiting one keeps its earlier time: collection is never put off for
    ever by a busy product)."""
    enqueue(
        session,
        COLLECT_GARBAGE,
        key=f"product:{pk(product)}",
        org_id=product.org_id,
        product_id=pk(product),
        not_before=after or timedelta(seconds=runtime.settings.gc_grace_seconds),
    )
