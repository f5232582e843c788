"""Pages the platform itself answers with (not a build's), as the edges
need them: the templates live in :mod:`keeper.pages`."""

from __future__ import annotations

from collections.abc import Mapping

from keeper.edge.site import SiteView
from keeper.pages import render


def platform_not_found(
    site: SiteView,
    *,
    org_title: str = "",
    templates: Mapping[str, str] | None = None,
) -> str:
    """The 404 page for a product: a missing edition or build, or a page no
    build has and no ``404.html`` covers. It links to the edition list.
    ``templates`` are the org's own (see :mod:`keeper.services.templates`)."""
    return render.platform_not_found(
        site.title or site.product, site.root, org_title=org_title, overrides=templates
    )
