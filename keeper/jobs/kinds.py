"""The kinds of job there are (their code is in :mod:`keeper.jobs.handlers`)."""

from enum import StrEnum


class JobKind(StrEnum):
    #: Render a product's pages (``/v/``, switchers, builds) into its store.
    render_pages = "render_pages"
    #: Rewrite and reload every recorded edge of an org; purge the changed
    #: products.
    update_edges = "update_edges"


RENDER_PAGES = JobKind.render_pages
UPDATE_EDGES = JobKind.update_edges
