"""A plain pydata-sphinx-theme site, configured the way that theme's own
documentation says, pointed at the platform's ``/v/switcher.json``.

``DOCS_VERSION`` is the release being built; ``DOCS_EDITION`` the edition
it is published as, which is what the switcher matches (CI knows it: a tag
build is its release, a ``main`` build is the default edition ``__main``).
"""

import os

release = os.environ.get("DOCS_VERSION", "2.0")
version = release

project = "Plain pydata"
author = "The platform's tests"
html_title = f"Plain pydata {release}"

html_theme = "pydata_sphinx_theme"
html_theme_options = {
    "switcher": {
        # Root-relative: the platform writes it beside every edition.
        "json_url": "/v/switcher.json",
        "version_match": os.environ.get("DOCS_EDITION", release),
    },
    "navbar_end": ["version-switcher", "theme-switcher"],
    # The build runs before the site is published, with no network.
    "check_switcher": False,
}
