"""The edge contract in Python: how a request for a product's site becomes
a file of some build, a redirect or a 404.

This is the reference every edge follows: the built-in edge calls
:func:`resolve`; the nginx and VCL renderers express the same steps in
their own languages, and one table of cases (``tests/edge/cases.py``) checks
that all of them agree. In order:

0. Before the site is even looked up: a Host header that is missing on
   HTTP/1.1, repeated or not a host name is 400 (:func:`host_problem`, RFC
   9112 §3.2), and so is a header field over ``MAX_EDGE_HEADER_BYTES``; a
   request target that is not a path (``*``, ``host:port``) is 400, and
   one over ``MAX_EDGE_TARGET_BYTES`` is 414 (:func:`target_problem`; the
   limits are in :mod:`keeper.domain.limits`). A target in absolute form
   (``http://host/path``) is its path, with its host as the Host (RFC 9112
   §3.2.2); a fragment sent raw (``#…``) is dropped, as HTTP servers do.
   Then the method: anything but GET and HEAD is 405.
1. A raw path with ``..``/``.`` segments, ``//``, a backslash, an encoded
   slash or backslash, a control character or a ``%`` not followed by two
   hex digits, or a target holding a byte that is not printable ASCII, is
   refused with 400 (:data:`BAD_RAW_PATH`), before anything is decoded. A
   path that is not UTF-8 once decoded is 400 too. Names are compared byte
   for byte: no Unicode normalisation, so ``é`` as one code point (NFC) and
   as two (NFD) are two names, as they are to nginx and S3.
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

A ``Location`` keeps what came from the request as the client sent it (the
rest of the path, a rule's splat, the query) and adds keeper's own text
(roots, edition slugs, rule targets), which holds only characters a URL
may. So no edge decodes and re-encodes a path to redirect it, and every
edge writes the same ``Location``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from keeper.db import MAIN_EDITION
from keeper.domain.limits import MAX_EDGE_TARGET_BYTES, MAX_HOST_BYTES, MAX_PATH_BYTES
from keeper.edge import redirects
from keeper.edge.site import INDEX_PAGE, NOT_FOUND_PAGE, BuildView, SiteView

#: Raw request targets (path and query, as sent) no edge serves: in the path
#: (before ``?``), an encoded slash or backslash, an encoded control
#: character, a ``%`` not followed by two hex digits, a backslash, ``//``,
#: or a ``.``/``..`` segment, plain or encoded; anywhere, a byte that is not
#: printable ASCII (RFC 3986 wants those percent-encoded). The same
#: expression is written into the nginx and VCL configurations.
BAD_RAW_PATH = (
    r"^[^?]*(%2[fF]|%5[cC]|%[01][0-9a-fA-F]|%7[fF]|%(?![0-9a-fA-F]{2})|\\|//"
    r"|/(\.|%2[eE])(\.|%2[eE])?(/|\?|$))|[^\x21-\x7E]"
)
_BAD_RAW_PATH = re.compile(BAD_RAW_PATH)
#: The Host header a request may carry: a DNS name (labels of letters,
#: digits, ``-`` and ``_``, one trailing dot allowed) or an IPv6 literal,
#: and a port. Anything else is refused with 400 (RFC 9112 §3.2): no
#: product's host is spelt with ``@``, ``%``, spaces or empty labels.
HOST = (
    rf"^(?:(?=[^:]{{1,{MAX_HOST_BYTES + 1}}}(?::|$))"
    r"[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$"
)
_HOST = re.compile(HOST)


#: Text that is UTF-8, for the edges that match decoded bytes with regular
#: expressions. Possessive, so that matching a long path keeps no
#: backtracking state (PCRE's JIT stack is small: Varnish fails the request
#: when it runs out).
UTF8_PATH = (
    r"^(?:[\x00-\x7F]++|[\xC2-\xDF][\x80-\xBF]|\xE0[\xA0-\xBF][\x80-\xBF]"
    r"|[\xE1-\xEC\xEE\xEF][\x80-\xBF]{2}|\xED[\x80-\x9F][\x80-\xBF]"
    r"|\xF0[\x90-\xBF][\x80-\xBF]{2}|[\xF1-\xF3][\x80-\xBF]{3}"
    r"|\xF4[\x80-\x8F][\x80-\xBF]{2})*+$"
)


def longer_than(limit: int) -> str:
    """A regular expression for text of more than ``limit`` bytes (the
    edges' regular expressions count bytes)."""
    return rf"^[\s\S]{{{limit + 1}}}"


#: Request targets (path and query) over the limit: 414.
TARGET_TOO_LONG = longer_than(MAX_EDGE_TARGET_BYTES)
#: Decoded paths within a build longer than any file's: no store is asked.
PATH_TOO_LONG = longer_than(MAX_PATH_BYTES)
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
    """A request no edge answers with a page: 400, or 414 for a request
    target that is too long."""

    reason: str
    status: int = 400


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
    """True for a raw target (path, and query if any) :data:`BAD_RAW_PATH`
    refuses."""
    return bool(_BAD_RAW_PATH.search(raw_path))


def is_host(value: str) -> bool:
    """Whether a Host header's value is a host name or address (and port)."""
    return bool(_HOST.match(value))


def host_problem(hosts: list[str], http_version: str) -> BadRequest | None:
    """Step 0, first part: what is wrong with a request's Host header fields
    (``hosts``, their values), whoever it is for (RFC 9112 §3.2)."""
    if len(hosts) > 1:
        return BadRequest("more than one Host header")
    if not hosts and http_version == "1.1":
        return BadRequest("no Host header")
    if hosts and not is_host(hosts[0]):
        return BadRequest("the Host header is not a host name")
    return None


def target_problem(raw_target: str) -> BadRequest | None:
    """400 for a request target that is not a path, 414 for a long one.

    ``raw_target`` is the path and query as sent, one character per byte
    (latin-1), as :func:`keeper.edge.app.request_target` gives it.
    """
    if not raw_target.startswith("/"):
        return BadRequest("the request target is not a path")
    if len(raw_target) > MAX_EDGE_TARGET_BYTES:
        return BadRequest(
            f"the request target is longer than {MAX_EDGE_TARGET_BYTES} bytes", 414
        )
    return None


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
    starts with ``/``), ``query`` the raw query, both as the client sent
    them (without a fragment).
    """
    if is_bad_raw_path(f"{raw_path}?{query}" if query else raw_path):
        return BadRequest("path not allowed")
    try:
        path = unquote(raw_path, errors="strict") if "%" in raw_path else raw_path
    except UnicodeDecodeError:  # %ff and the like: no file has such a name
        return BadRequest("path is not UTF-8")
    suffix = f"?{query}" if query else ""
    rule = redirects.match(site.redirects, path, raw=raw_path)
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
            site,
            scope,
            f"{site.root}/v/{slug}",
            _Rest(tail, _raw_tail(raw_path, 2)),
            suffix,
            has,
            cookie,
        )
    if head == "builds" and "/" in path[1:]:
        public_id, slash, tail = rest.partition("/")
        if public_id not in site.builds:
            return PlatformNotFound(Scope(by_id=True, noindex=True))
        scope = Scope(build=public_id, by_id=True, noindex=True)
        base = f"{site.root}/builds/{public_id}"
        if not slash:
            return Redirect(f"{base}/{suffix}", 301, scope)
        return _from_build(
            site, scope, base, _Rest(tail, _raw_tail(raw_path, 2)), suffix, has
        )
    main = site.main
    if main is None or main.build is None:
        return PlatformNotFound(Scope(edition=MAIN_EDITION))
    scope = Scope(
        edition=MAIN_EDITION,
        build=main.build,
        noindex=main.noindex,
        pin_path=f"{site.root}/",
    )
    main_rest = _Rest(path[1:], raw_path[1:])
    return _from_edition(site, scope, site.root, main_rest, suffix, has, cookie)


@dataclass(frozen=True)
class _Rest:
    """The path within a build, decoded and as the client sent it."""

    path: str
    raw: str


def _raw_tail(raw_path: str, segments: int) -> str:
    """``raw_path`` without its first ``segments`` segments and their
    slashes: decoding keeps every ``/`` (``%2F`` is refused), so this is the
    raw spelling of the same rest of the path."""
    return "/".join(raw_path.split("/")[segments + 1 :])


def _from_edition(
    site: SiteView,
    scope: Scope,
    base: str,
    rest_of: _Rest,
    suffix: str,
    has: Lookup,
    cookie: str | None,
) -> Decision:
    rest = rest_of.path
    if is_asset(rest):
        for edition, build in pins(cookie):
            if edition == scope.edition and build in site.builds:
                if build != scope.build and _plain_file(site.builds[build], rest, has):
                    pinned = Scope(
                        edition=scope.edition, build=build, noindex=scope.noindex
                    )
                    return Serve(build, rest, 200, pinned)
                break
    decision = _from_build(site, scope, base, rest_of, suffix, has)
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
    site: SiteView, scope: Scope, base: str, rest_of: _Rest, suffix: str, has: Lookup
) -> Decision:
    assert scope.build is not None
    build = site.builds[scope.build]
    rest = rest_of.path
    rule = redirects.match(build.redirects, "/" + rest, raw="/" + rest_of.raw)
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
        return Redirect(f"{base}/{rest_of.raw}/{suffix}", 301, scope)
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
