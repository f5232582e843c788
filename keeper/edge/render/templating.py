"""The Jinja2 environment every configuration template is rendered in."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def _base(folder: str) -> Environment:
    # Configuration languages are not HTML: nothing is escaped implicitly,
    # every value goes through the target's own quoting filter instead, and
    # a name missing from the context is an error, never an empty string.
    return Environment(
        loader=PackageLoader("keeper.edge", f"templates/{folder}"),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )


def environment(folder: str, **filters: Callable[..., Any]) -> Environment:
    """The environment for ``templates/<folder>``, with the target's filters
    (its string quoting, above all)."""
    env = _base(folder)
    env.filters.update(filters)
    return env
