"""Long ``IN (...)`` lists, cut to a size every database takes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

#: Well under every database's limit on bound parameters (SQLite's is the
#: lowest), and small enough for an index lookup per value.
IN_LIST_LIMIT = 500


def in_batches(items: Sequence[T]) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most :data:`IN_LIST_LIMIT`."""
    for i in range(0, len(items), IN_LIST_LIMIT):
        yield list(items[i : i + IN_LIST_LIMIT])
