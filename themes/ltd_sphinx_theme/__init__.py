"""The ``ltd`` Sphinx theme: pydata-sphinx-theme that knows which edition it is in.

A build is immutable and the platform may serve the same build at the site
root, at ``v/<edition>/`` and at ``builds/<id>/`` all at once, so nothing
edition-specific can be decided here. This module only registers the theme
and its script; ``static/ltd-theme.js`` works out the site root, the edition,
the version switcher, the banner and the canonical link in the browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

__version__ = "0.1.0"

THEME_NAME = "ltd"
THEME_DIR = Path(__file__).resolve().parent / "theme" / THEME_NAME

# After Sphinx's documentation_options.js (200) and the inline snippets that
# pydata-sphinx-theme adds per page (500), so that the switcher settings this
# script writes into DOCUMENTATION_OPTIONS are the ones that stay.
SCRIPT_PRIORITY = 800


def setup(app: Sphinx) -> dict[str, Any]:
    # pydata-sphinx-theme is not set up here: Sphinx loads it through its own
    # entry point when it resolves ``inherit``, i.e. only when this theme is
    # used. Its page handlers assume its templates and would break another
    # theme if this module were merely listed in ``extensions``.
    app.add_html_theme(THEME_NAME, str(THEME_DIR))
    # Before pydata-sphinx-theme's own builder-inited handler (priority 500),
    # which is where it would fetch a configured switcher file.
    app.connect("builder-inited", _never_fetch_switcher, priority=400)
    app.connect("builder-inited", _add_script)
    app.connect("html-page-context", _default_colour_mode)
    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def _uses_this_theme(app: Sphinx) -> bool:
    theme = getattr(app.builder, "theme", None)
    if theme is None:  # not an HTML builder
        return False
    return any(Path(d).resolve() == THEME_DIR for d in theme.get_theme_dirs())


def _never_fetch_switcher(app: Sphinx) -> None:
    """Keep builds offline even when a project configures ``switcher`` itself.

    pydata-sphinx-theme checks a configured switcher file over HTTP at build
    time unless ``check_switcher`` is false. With this theme the switcher file
    lives on the platform and is found in the browser, so there is nothing
    worth checking, and a build must never depend on the network.
    """
    if not _uses_this_theme(app):
        return
    options = getattr(app.builder, "theme_options", None)
    if isinstance(options, dict) and isinstance(options.get("switcher"), dict):
        options.setdefault("check_switcher", False)


def _add_script(app: Sphinx) -> None:
    # Listed as an extension while another theme is in use, stay out of the way.
    if not _uses_this_theme(app):
        return
    attributes: dict[str, str] = {}
    if app.config.html_baseurl:
        # Sphinx writes its own canonical link from html_baseurl, and it comes
        # after this script in <head>: tell the script to leave it alone.
        attributes["data-ltd-keep-canonical"] = "true"
    app.add_js_file("ltd-theme.js", priority=SCRIPT_PRIORITY, **attributes)


def _default_colour_mode(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree
) -> None:
    # pydata-sphinx-theme reads the colour mode from html_context and, when a
    # project sets none, logs a console error on every page before falling
    # back to "auto". Say "auto" up front; a project's own choice still wins.
    if _uses_this_theme(app):
        context.setdefault("default_mode", "auto")
