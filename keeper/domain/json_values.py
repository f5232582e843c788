"""Measuring free-form JSON values, without recursion (they may be deep)."""

from __future__ import annotations

import json
from typing import Any


def deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects or arrays more than ``limit`` levels."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def compact_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: what keeper stores."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
