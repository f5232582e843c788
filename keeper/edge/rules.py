"""The edge contract in Python: how a request for a product's site becomes
a file of some build, a redirect or a 404.

This is the reference every edge follows: the built-in edge calls
:func:`resolve`; the nginx and VCL renderers express the same steps in
their own languages, and one table of cases (``tests/edge/cases.py``) checks
that all of them agree. In order:

1. A raw path with ``..``/``.`` segments, ``//``, a backslash, an encoded
   slash or backslash, or a control character is refused with 400
   (:data:`BAD_RAW_PATH`), before anything is decoded.
2. Product redirect rules, matched against the site path.
3. Routing: the pages keeper generates for the product (``/v/``,
   ``/v/switcher.json``, ``/v/versions.json``, ``/builds/``; ``/v`` and
   ``/builds`` → 301 to ``…/``), ``/v/<edition>/…`` (``/v/<edition>`` → 301
   to ``…/``), ``/builds/<id>/…`` (same), and everything else from
   ``__main``. An unknown edition or build, or one with nothing published,
   is the platform's 404 page.
4. Skew protection: a request for an asset (not a page) carrying the
   ``ltd-pin`` cookie that an edition's page set is served from the build
   that page came from, so a page and its stylesheets and scripts never mix
   builds while the edition switches. Pages always get the current build.
5. The serving build's ``_redirects`` rules, relative to where it is served.
6. The file: ``…/`` means ``…/index.html``; ``/a`` → 301 ``/a/`` when
   ``a/index.html`` exists; otherwise the build's own ``404.html``, else the
   default edition's, else the platform's page, all with status 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from keeper.db import MAIN_EDITION
from keeper.edge import redirects
from keeper.edge.site import INDEX_PAGE, NOT_FOUND_PAGE, BuildView, SiteView

#: Raw paths (before ``?``) no edge serves. The same expression is written
#: into the nginx and VCL configurations.
BAD_RAW_PATH = (
    r"^[^?]*(%2[fF]|%5[cC]|%[01][0-9a-fA-F]|%7[fF]|\\|//"
    r"|/(\.|%2[eE])(\.|%2[eE])?(/|\?|$))"
)
_BAD_RAW_PATH = re.compile(BAD_RAW_PATH)
#: Assets are what a page loads: anything whose last segment has an
#: extension other than ``.html``/``.htm``. The same rule is in every edge.
ASSET_PATH = r"[^/]\.[A-Za-z0-9]+$"
PAGE_EXTENSIONS = (".html", ".htm")
_ASSET = re.compile(ASSET_PATH)
PIN_COOKIE = "ltd-pin"
#: Build ids are lower-case base32; anything else in a URL or cookie is junk.
BUILD_ID = r"[a-z0-9]{1,32}"
_BUILD_ID = re.compile(BUILD_ID + "$")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

#: ``has(build, path)``: is ``path`` a file of the complete build ``build``?
Lookup = Callable[[str, str], bool]


@dataclass(frozen=True)
class Scope:
    """What a response is about: the keys and policies its headers carry."""

    edition: str | None = None
    build: str | None = None
    #: True for ``/builds/<id>/…``: immutable and never indexed.
    by_id: bool = False
    noindex: bool = False
    #: The URL prefix a page's pin cookie is scoped to, when one is set.
    pin_path: str | None = None


@dataclass(frozen=True)
class Serve:
    build: str
    path: str
    status: int = 200
    scope: Scope = field(default_factory=Scope)
    #: Set the pin cookie (a page of an edition's current build).
    pin: bool = False


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int = 301
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True)
class Generated:
    """One of the pages keeper writes for the product (see
    :mod:`keeper.pages`), read from ``<product>/_meta/<page>`` in the store."""

    page: str
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True)
class PlatformNotFound:
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True)
class BadRequest:
    reason: str


Decision = Serve | Redirect | Generated | PlatformNotFound | BadRequest

#: Site paths answered with a generated page, and the page's name under the
#: product's ``_meta/`` prefix. Edition slugs never take these names.
GENERATED_PAGES = {
    "/v/": "v/index.html",
    "/v/switcher.json": "v/switcher.json",
    "/v/versions.json": "v/versions.json",
    "/builds/": "builds/index.html",
}
#: Slugs no edition may take: ``/v/<slug>`` is a generated page.
RESERVED_EDITION_SLUGS = frozenset(
    p.removeprefix("/v/") for p in GENERATED_PAGES if p.startswith("/v/") and p != "/v/"
)
#: ``/v`` and ``/builds`` lead to their dashboards.
DASHBOARD_DIRS = ("/v", "/builds")


def is_bad_raw_path(raw_path: str) -> bool:
    return bool(_BAD_RAW_PATH.search(raw_path))


def is_asset(path: str) -> bool:
    return bool(_ASSET.search(path)) and not path.lower().endswith(PAGE_EXTENSIONS)


def pins(cookie_header: str | None) -> list[tuple[str, str]]:
    """Every ``(edition, build)`` pair in ``ltd-pin`` cookies, in order."""
    found = []
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == PIN_COOKIE:
            edition, sep, build = value.partition("~")
            if sep and _BUILD_ID.match(build):
                found.append((edition, build))
    return found


def pin_cookie(edition: str, build: str, path: str) -> str:
    return f"{PIN_COOKIE}={edition}~{build}; Path={path}; SameSite=Lax"


def resolve(
    site: SiteView,
    raw_path: str,
    query: str,
    *,
    has: Lookup,
    cookie: str | None = None,
) -> Decision:
    """Decide the answer to ``GET raw_path?query`` for ``site``.

    ``raw_path`` is the percent-encoded path after the site's root (so it
    starts with ``/``).
    """
    if is_bad_raw_path(raw_path):
        return BadRequest("path not allowed")
    try:
        path = unquote(raw_path, errors="strict") if "%" in raw_path else raw_path
    except UnicodeDecodeError:  # %ff and the like: no file has such a name
        return BadRequest("path is not UTF-8")
    suffix = f"?{query}" if query else ""
    rule = redirects.match(site.redirects, path)
    if rule is not None:
        target = redirects.join_target(site.root, rule[1])
        return Redirect(_with_query(target, suffix), rule[0].status)

    page = GENERATED_PAGES.get(path)
    if page is not None:
        # The build list is as unindexable as the builds it links to.
        return Generated(page, Scope(noindex=path == "/builds/"))
    if path in DASHBOARD_DIRS:
        return Redirect(f"{site.root}{path}/{suffix}", 301)

    head, _, rest = path[1:].partition("/")
    if head == "v" and "/" in path[1:]:
        slug, slash, tail = rest.partition("/")
        edition = site.editions.get(slug)
        scope = Scope(edition=slug)
        if edition is None or edition.build is None or not slug:
            return PlatformNotFound(scope)
        scope = Scope(
            edition=slug,
            build=edition.build,
            noindex=edition.noindex,
            pin_path=f"{site.root}/v/{slug}/",
        )
        if not slash:
            return Redirect(f"{site.root}/v/{slug}/{suffix}", 301, scope)
        return _from_edition(
            site, scope, f"{site.root}/v/{slug}", tail, suffix, has, cookie
        )
    if head == "builds" and "/" in path[1:]:
        public_id, slash, tail = rest.partition("/")
        if public_id not in site.builds:
            return PlatformNotFound(Scope(by_id=True, noindex=True))
        scope = Scope(build=public_id, by_id=True, noindex=True)
        base = f"{site.root}/builds/{public_id}"
        if not slash:
            return Redirect(f"{base}/{suffix}", 301, scope)
        return _from_build(site, scope, base, tail, suffix, has)
    main = site.main
    if main is None or main.build is None:
        return PlatformNotFound(Scope(edition=MAIN_EDITION))
    scope = Scope(
        edition=MAIN_EDITION,
        build=main.build,
        noindex=main.noindex,
        pin_path=f"{site.root}/",
    )
    return _from_edition(site, scope, site.root, path[1:], suffix, has, cookie)


def _from_edition(
    site: SiteView,
    scope: Scope,
    base: str,
    rest: str,
    suffix: str,
    has: Lookup,
    cookie: str | None,
) -> Decision:
    if is_asset(rest):
        for edition, build in pins(cookie):
            if edition == scope.edition and build in site.builds:
                if build != scope.build and _plain_file(site.builds[build], rest, has):
                    pinned = Scope(
                        edition=scope.edition, build=build, noindex=scope.noindex
                    )
                    return Serve(build, rest, 200, pinned)
                break
    decision = _from_build(site, scope, base, rest, suffix, has)
    if (
        isinstance(decision, Serve)
        and decision.status == 200
        and not is_asset(rest)
        and scope.pin_path
    ):
        return Serve(decision.build, decision.path, 200, decision.scope, pin=True)
    return decision


def _plain_file(build: BuildView, rest: str, has: Lookup) -> bool:
    """True when ``rest`` is a file of ``build`` that no rule redirects."""
    if redirects.match(build.redirects, "/" + rest):
        return False
    return has(build.public_id, rest)


def _from_build(
    site: SiteView, scope: Scope, base: str, rest: str, suffix: str, has: Lookup
) -> Decision:
    assert scope.build is not None
    build = site.builds[scope.build]
    rule = redirects.match(build.redirects, "/" + rest)
    if rule is not None:
        target = redirects.join_target(base, rule[1])
        return Redirect(_with_query(target, suffix), rule[0].status, scope)
    key = rest + INDEX_PAGE if rest == "" or rest.endswith("/") else rest
    if has(build.public_id, key):
        return Serve(build.public_id, key, 200, scope)
    if (
        rest
        and not rest.endswith("/")
        and has(build.public_id, rest + "/" + INDEX_PAGE)
    ):
        return Redirect(f"{base}/{rest}/{suffix}", 301, scope)
    return not_found(site, scope, has)


def not_found(site: SiteView, scope: Scope, has: Lookup) -> Decision:
    """The 404 chain: the build's own page, the default edition's, the
    platform's."""
    candidates = [scope.build, site.main.build if site.main else None]
    for build in candidates:
        if build is not None and has(build, NOT_FOUND_PAGE):
            return Serve(build, NOT_FOUND_PAGE, 404, _served_from(scope, build))
    return PlatformNotFound(scope)


def _served_from(scope: Scope, build: str) -> Scope:
    return Scope(
        edition=scope.edition,
        build=build,
        by_id=scope.by_id,
        noindex=scope.noindex,
        pin_path=scope.pin_path,
    )


def _with_query(target: str, suffix: str) -> str:
    if not suffix or target.startswith(("http://", "https://")):
        return target
    return target + suffix if "?" not in target else target + "&" + suffix[1:]


def headers(site: SiteView, scope: Scope, status: int) -> dict[str, str]:
    """Cache, surrogate-key and robots headers for a response in ``scope``."""
    keys = [site.key()]
    if scope.edition is not None:
        keys.append(site.key("v", scope.edition))
    if scope.build is not None:
        keys.append(site.key("builds", scope.build))
    out = {
        "Cache-Control": IMMUTABLE
        if scope.by_id and scope.build and status < 400
        else REVALIDATE,
        "Surrogate-Key": " ".join(keys),
        "Cache-Tag": ",".join(keys),
    }
    if scope.noindex:
        out["X-Robots-Tag"] = "noindex"
    return out
