"""Configurations for edges that are not keeper itself: nginx, Varnish, Fastly.

Each target turns a :class:`RenderContext` (everything readers can reach in
one org) into files, and knows how to make a running server pick up new
files after a publish. :mod:`keeper.edge.configs` writes the files and
calls the target; the targets themselves never touch the database.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from keeper.edge.origin import Origin
from keeper.edge.site import SiteView


@dataclass(frozen=True)
class RenderContext:
    org: str
    sites: Sequence[SiteView]
    #: For every build: the directories holding an ``index.html`` (``a/``)
    #: and ``404.html`` when it has one (see :class:`keeper.edge.site.SpecialPages`).
    pages: Mapping[str, frozenset[str]]
    origin: Origin
    listen_host: str
    listen_port: int
    out_dir: Path
    #: Target-specific options given to ``keeper edge render --option``.
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: The platform's 404 page for each product slug.
    platform_pages: Mapping[str, str] = field(default_factory=dict)
    #: The org's title and its own page templates (Fastly renders the 404
    #: page once for every product, filling the product in at the edge).
    org_title: str = ""
    page_templates: Mapping[str, str] = field(default_factory=dict)
    #: Keeper's own URL, for targets that fetch from it.
    keeper_url: str = ""
    #: What an edge shows keeper's origin route (``/_edge/origin/<org>/…``)
    #: to read a filesystem store: an HMAC of the org under keeper's key,
    #: derived again by every render, never stored.
    origin_secret: str = ""


class EdgeTarget(Protocol):
    name: str

    def render(self, ctx: RenderContext) -> dict[str, str]:
        """Every file of the configuration, by path relative to ``out_dir``."""
        ...

    def command(self, ctx: RenderContext) -> str:
        """How to start the server on the rendered files (printed for people)."""
        ...

    def activate(self, ctx: RenderContext, changed: Sequence[SiteView]) -> None:
        """Make the running server use the files just written, and purge what
        ``changed`` made stale. Called after every publish, never at the
        first render (the server may not run yet)."""
        ...


#: Target name → module defining ``TARGET``.
_MODULES = {
    "nginx": "keeper.edge.render.nginx",
    "varnish": "keeper.edge.render.varnish",
    "fastly": "keeper.edge.render.fastly",
}
TARGET_NAMES = tuple(_MODULES)


def target(name: str) -> EdgeTarget:
    try:
        module = importlib.import_module(_MODULES[name])
    except KeyError:
        raise ValueError(
            f"unknown edge target {name!r}; use one of {', '.join(_MODULES)}"
        ) from None
    found: EdgeTarget = module.TARGET
    return found
