"""The kinds of job there are (their code is in :mod:`keeper.jobs.handlers`)."""

#: Render a product's pages (``/v/``, switcher files, builds) into its store.
RENDER_PAGES = "render_pages"
#: Rewrite and reload every recorded edge of an org; purge changed products.
UPDATE_EDGES = "update_edges"

KINDS = (RENDER_PAGES, UPDATE_EDGES)
