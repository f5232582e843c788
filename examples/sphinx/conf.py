"""Sphinx configuration for Lanternfish, an imaginary project's docs.

The example the platform's demo publishes: built once as 1.0 and once as
2.0 (``EXAMPLE_DOCS_VERSION=1.0 sphinx-build ...``) it gives two editions
that share most pages, and each has one page the other lacks.
"""

import os

release = os.environ.get("EXAMPLE_DOCS_VERSION", "2.0")
version = ".".join(release.split(".")[:2])
major = int(release.split(".")[0])

project = "Lanternfish"
author = "The Lanternfish authors"
copyright = "2024, The Lanternfish authors"
language = "en"

html_theme = "ltd"
# Short, so that the navbar fits on a phone.
html_title = f"Lanternfish {release}"

# Each of these pages belongs to one major version only, so "is this page in
# the default edition?" has both answers in the demo. The topics toctree is a
# glob, which leaves excluded pages out without a warning.
ONLY_IN_MAJOR = {
    "topics/legacy-ingest.rst": 1,
    "topics/streaming.rst": 2,
}
exclude_patterns = [
    "_build",
    "README.md",
    *(page for page, only in ONLY_IN_MAJOR.items() if only != major),
]
