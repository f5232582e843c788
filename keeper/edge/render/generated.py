"""The pages keeper generates for a product, as the rendered edges serve them.

:func:`keeper.edge.rules.resolve` answers the site paths of
:data:`~keeper.edge.rules.GENERATED_PAGES` with a
:class:`~keeper.edge.rules.Generated` page, read from the product's
``meta_prefix`` in the org's store, and redirects
:data:`~keeper.edge.rules.DASHBOARD_DIRS` to ``…/``. Every renderer writes
that table into its configuration from here, so none keeps its own copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keeper.edge import rules
from keeper.edge.site import SiteView


@dataclass(frozen=True)
class GeneratedPage:
    #: The site path (below the product's root) answered with the page.
    path: str
    #: The page's name under the product's meta prefix.
    page: str
    #: The answer asks search engines not to index it.
    noindex: bool

    @property
    def path_regex(self) -> str:
        """A regular expression matching :attr:`path` alone."""
        return "^" + re.escape(self.path) + "$"


def generated_pages() -> list[GeneratedPage]:
    """The table, with the scope :func:`rules.resolve` serves each page in.

    The renderers give a generated page the product's surrogate key alone
    and decide nothing else about it; a scope with more in it (an edition,
    a build) would need them changed, so it fails the render instead.
    """
    blank = SiteView(org="", product="", host="", root="", editions={}, builds={})
    found = []
    for path, page in rules.GENERATED_PAGES.items():
        decision = rules.resolve(blank, path, "", has=lambda _build, _path: False)
        if not (
            isinstance(decision, rules.Generated)
            and decision.page == page
            and decision.scope == rules.Scope(noindex=decision.scope.noindex)
        ):
            raise RuntimeError(f"the renderers cannot serve {path} as {decision!r}")
        found.append(GeneratedPage(path, page, decision.scope.noindex))
    return found


#: Site paths that redirect to themselves with a slash: ``/v`` → ``/v/``.
DASHBOARD_DIRS_REGEX = (
    "^(?:" + "|".join(re.escape(d) for d in rules.DASHBOARD_DIRS) + ")$"
)
