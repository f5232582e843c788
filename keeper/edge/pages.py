"""Pages the platform itself answers with (not a build's)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from keeper.edge.site import SiteView


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("keeper.edge", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def platform_not_found(site: SiteView) -> str:
    """The 404 page for a product: a missing edition or build, or a page no
    build has and no ``404.html`` covers. It links to the edition list."""
    return (
        _environment()
        .get_template("platform-404.html")
        .render(product=site.product, root=site.root)
    )
