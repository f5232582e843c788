"""Turning a :class:`~keeper.pages.entries.Listing` into the bytes of a
product's generated pages.

HTML comes from Jinja2 templates that an org may override one by one
(``base.html`` holds the shared layout and style). Org templates are written
by org admins, not by whoever runs keeper, so every template renders in
Jinja's sandbox, and pages that use an org's templates render in a worker
process within a budget of time and memory (:mod:`keeper.pages.budget`).
Keeper's own templates render here. The switcher files are plain JSON built
here, since their formats belong to the tools that read them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import ChoiceLoader, DictLoader, PackageLoader, select_autoescape
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from keeper.domain.editions import MAIN_EDITION
from keeper.pages import budget
from keeper.pages.budget import BudgetExceeded, RendererUnavailable
from keeper.pages.entries import EditionEntry, Listing

log = logging.getLogger(__name__)

#: Templates an org may replace, and what each renders.
TEMPLATES = {
    "base.html": "the layout and style every page extends",
    "editions.html": "the edition dashboard at /v/",
    "builds.html": "the build list at /builds/",
    "404.html": "the platform's page for an address nothing answers",
}
#: Generated page (under the product's ``_meta/``) → its template.
HTML_PAGES = {"v/index.html": "editions.html", "builds/index.html": "builds.html"}
SWITCHER = "v/switcher.json"
VERSIONS = "v/versions.json"
#: Every page :func:`render_pages` returns.
PAGES = (*HTML_PAGES, SWITCHER, VERSIONS)


#: The largest string or list a template may build with ``*`` or ``**``
#: (the sandbox already caps ``range``): an org's template must not be able
#: to exhaust keeper's memory on every publish.
MAX_PRODUCT = 1_000_000


class _PageSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponents above 64 are not allowed in templates")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_PRODUCT
                ):
                    raise SecurityError(
                        f"a template may not build sequences over {MAX_PRODUCT}"
                    )
        return super().call_binop(context, operator, left, right)


def environment(overrides: Mapping[str, str] | None = None) -> SandboxedEnvironment:
    return _environment(tuple(sorted((overrides or {}).items())))


@lru_cache(maxsize=64)
def _environment(overrides: tuple[tuple[str, str], ...]) -> SandboxedEnvironment:
    env = _PageSandbox(
        loader=ChoiceLoader(
            [DictLoader(dict(overrides)), PackageLoader("keeper.pages", "templates")]
        ),
        autoescape=select_autoescape(["html"], default_for_string=True),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        timestamp=_timestamp,
        size=_size,
        build_url=lambda build: f"/builds/{build}/",
        edition_url=_edition_url,
    )
    return env


def render_pages(
    listing: Listing, overrides: Mapping[str, str] | None = None
) -> dict[str, bytes]:
    """Every generated page of a product, by its name under ``_meta/``.

    Raises what the org's templates raise, or
    :class:`~keeper.pages.budget.BudgetExceeded`."""
    context = _context(listing)
    jobs = [
        (template, {"page": template.removesuffix(".html")})
        for template in HTML_PAGES.values()
    ]
    if overrides:
        html = budget.render(overrides, jobs, context)
    else:
        env = environment()
        html = [
            env.get_template(template).render(**context, **extra).encode()
            for template, extra in jobs
        ]
    pages = dict(zip(HTML_PAGES, html, strict=True))
    pages[SWITCHER] = _json(switcher_entries(listing))
    pages[VERSIONS] = _json(versions_entries(listing))
    return pages


def product_pages(
    listing: Listing, overrides: Mapping[str, str] | None = None
) -> dict[str, bytes]:
    """Every generated page of a product, from the org's templates if they
    render it within budget, else from keeper's own.

    The org's templates were checked on a sample product when they were set,
    but may still fail, or take too long, on a real one; its readers then
    get keeper's pages rather than stale ones. Raises only
    :class:`~keeper.pages.budget.RendererUnavailable` (keeper is stopping):
    writing keeper's pages then would wrongly replace the org's.
    """
    subject = f"pages of {listing.org}/{listing.product}"
    if overrides and not _given_up(overrides, subject):
        try:
            return render_pages(listing, overrides)
        except RendererUnavailable:
            raise
        except Exception as exc:
            _fell_back(overrides, subject, exc)
    return render_pages(listing)


def render_template(
    overrides: tuple[tuple[str, str], ...], template: str, context: Mapping[str, Any]
) -> str:
    """One template in this process: what a render worker does for keeper
    (:mod:`keeper.pages.worker`), with no budget of its own."""
    return _environment(overrides).get_template(template).render(**context)


def platform_not_found(
    product_title: str,
    root: str,
    *,
    org_title: str = "",
    overrides: Mapping[str, str] | None = None,
    strict: bool = False,
) -> str:
    """The page for an address no edition or build answers. It links to the
    edition dashboard.

    An org's template is checked on a sample product when it is set, but may
    still fail or exceed its budget on a real one; the edge then answers
    with keeper's own page rather than an error. ``strict`` (for that check)
    lets the failure out. :class:`~keeper.pages.budget.RendererUnavailable`
    always does.
    """
    context = {
        "page": "404",
        "product_title": product_title,
        "root": root,
        "org_title": org_title,
    }
    subject = f"404 page of {org_title}/{product_title} at {root or '/'}"
    if overrides and (strict or not _given_up(overrides, subject)):
        try:
            page = budget.render(overrides, [("404.html", {})], context)[0]
            return page.decode()
        except RendererUnavailable:
            raise
        except Exception as exc:
            if strict:
                raise
            _fell_back(overrides, subject, exc)
    return environment().get_template("404.html").render(**context)


def _given_up(overrides: Mapping[str, str], subject: str) -> bool:
    if budget.strikes.given_up(overrides, subject):
        log.debug("not trying the org's templates again for the %s", subject)
        return True
    return False


def _fell_back(overrides: Mapping[str, str], subject: str, exc: Exception) -> None:
    if isinstance(exc, BudgetExceeded):
        budget.strikes.record(overrides, subject)
        log.warning(
            "the org's templates fail for the %s; using keeper's own: %s", subject, exc
        )
    else:
        log.warning(
            "the org's templates fail for the %s; using keeper's own",
            subject,
            exc_info=exc,
        )


def switcher_entries(listing: Listing) -> list[dict[str, Any]]:
    """pydata-sphinx-theme's version switcher format. URLs are relative to
    the host, so the file works under every name the site is served at."""
    entries = []
    for e in listing.editions:
        entry: dict[str, Any] = {
            "name": e.title,
            "version": e.slug,
            "url": listing.root + e.url,
        }
        if e.is_default:
            entry["preferred"] = True
        entries.append(entry)
    return entries


def versions_entries(listing: Listing) -> list[dict[str, Any]]:
    """mike's ``versions.json``, as MkDocs Material's version menu reads it:
    ``version`` is the path segment below ``/v/``."""
    return [
        {
            "version": e.slug,
            "title": e.title,
            "aliases": [],
            "properties": _properties(e),
        }
        for e in listing.editions
    ]


def _properties(e: EditionEntry) -> dict[str, Any]:
    return {
        "default": e.is_default,
        "kind": e.kind,
        "git_ref": e.git_ref,
        "build": e.build,
        "updated": e.updated.astimezone(UTC).isoformat(),
    }


def _context(listing: Listing) -> dict[str, Any]:
    return {
        "org_title": listing.org_title,
        "product": listing.product,
        "product_title": listing.product_title,
        "root": listing.root,
        "editions": listing.editions,
        "builds": listing.builds,
        "builds_total": listing.builds_total,
    }


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def _edition_url(slug: str) -> str:
    return "/" if slug == MAIN_EDITION else f"/v/{slug}/"


def _timestamp(when: datetime | None) -> Markup | str:
    if when is None:
        return ""
    when = when.astimezone(UTC)
    text = when.strftime("%Y-%m-%d %H:%M UTC")
    return Markup(f'<time datetime="{escape(when.isoformat())}">{escape(text)}</time>')


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
