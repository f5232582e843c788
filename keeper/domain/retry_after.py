"""How long a ``429``/``503`` asks a client to wait (``Retry-After``).

Shared by keeper's own API clients (Fastly) and the client library.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after(headers: Mapping[str, str], *, cap: float = 30.0) -> float | None:
    """Seconds a response asks us to wait, if its headers say (seconds or
    an HTTP date), never more than ``cap``."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(cap, max(0.0, (when - datetime.now(UTC)).total_seconds()))
