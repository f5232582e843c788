"""Exponential backoff with full jitter, shared by API calls and transfers."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass
class Backoff:
    """Delays of ``base * 2**n`` capped at ``cap``, each drawn uniformly from
    ``[0, delay]`` so that many clients failing together do not retry in
    lockstep (AWS's "full jitter")."""

    base: float = 0.2
    cap: float = 10.0
    attempt: int = field(default=0)

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return random.uniform(0, delay)


def retry_after(headers: Mapping[str, str], *, cap: float = 30.0) -> float | None:
    """Seconds a 429/503 asks us to wait, if its headers say."""
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
