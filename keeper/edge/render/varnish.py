"""Varnish (VCL 4.1, Varnish 7) for an org's sites.

Two files: ``default.vcl`` holds the logic of :mod:`keeper.edge.rules` and
the origin, and includes ``editions.vcl``, the data (hosts, editions,
builds, redirect rules, platform pages): a publish rewrites both, but only
the data changes.

How the VCL answers, in the terms of :func:`keeper.edge.rules.resolve`:

- ``vcl_recv`` decides everything a request needs no file for (bad paths,
  product rules, routing, pins, the build's ``_redirects``) and names the
  object to look up: ``<product>/builds/<id>/<path>`` (or a generated
  page's, ``<product>/_meta/<page>``).
- Objects are cached by that name alone, so a cached file serves every
  edition that shows its build, and an edition switch needs no purge:
  builds never change once complete.
- ``has(build, path)`` is asked of the origin: a missing object is cached
  too (a "missing" marker), and ``vcl_deliver`` restarts the request with
  the next step: the current build after a pinned build lacked an asset,
  ``a/index.html`` for the ``/a`` → ``/a/`` redirect, then the 404 chain.
  Which builds hold a ``404.html`` is known at render time
  (:attr:`RenderContext.pages`), so the chain needs no probe. At most three
  restarts, within varnishd's default ``max_restarts`` of 4.
- The pages keeper generates for a product (``/v/``, ``/builds/``…) are
  objects under its meta prefix that every publish rewrites in place, so
  they are never cached: each request for one is passed to the origin,
  which also answers its ``If-None-Match`` and ``Range``. One that is not
  there yet is the platform's 404 page.
- The answer's headers (:func:`keeper.edge.rules.headers`, the pin cookie)
  are added in ``vcl_deliver``/``vcl_synth`` from what ``vcl_recv``
  decided, never stored with the object.

Varnish cannot read files, nor sign requests, nor speak TLS to a backend:
a ``filesystem`` store is read through keeper's own origin route
(:mod:`keeper.api.routes.edge_origin`, guarded by a secret header), an
``s3`` store straight from its endpoint over plain HTTP with anonymous GETs
(the bucket must allow ``s3:GetObject`` under the org's prefix to anyone,
or to the address varnishd fetches from).

Hostile requests (:func:`keeper.edge.rules.resolve`, step 0): varnishd
itself refuses a repeated Host and header fields over ``http_req_hdr_len``
(8 KiB) with 400, and closes the connection on a request over
``http_req_size`` (32 KiB); ``ltd_request`` does the rest as the other
edges do (absolute targets, fragments, Host names, target length, Range).
Every copy the VCL makes of the path lives in varnishd's workspace
(``workspace_client``, 64 KiB by default), which a failed allocation
turns into a 503: the target limit bounds them, no path longer than a file
can be is fetched or redirected from, Locations are never re-encoded, and
the regular expressions run over a path keep no backtracking state (PCRE's
JIT stack is small too).

"Missing" answers are cached for an hour: an origin that was briefly
misconfigured (every GET refused) is forgotten sooner with
``varnishadm ban 'obj.http.X-Ltd-Missing == 1'``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment

from keeper.db import MAIN_EDITION
from keeper.domain.limits import MAX_EDGE_TARGET_BYTES
from keeper.edge import redirects, rules
from keeper.edge.origin import AMZ_HEADERS, UnsupportedOrigin
from keeper.edge.redirects import Rule
from keeper.edge.render import RenderContext
from keeper.edge.render.generated import DASHBOARD_DIRS_REGEX, generated_pages
from keeper.edge.render.templating import environment
from keeper.edge.site import INDEX_PAGE, NOT_FOUND_PAGE, SiteView
from keeper.services.edge_origin import ORIGIN_PATH, SECRET_HEADER

log = logging.getLogger(__name__)

MAIN_FILE = "default.vcl"
DATA_FILE = "editions.vcl"
#: Loaded configurations are named ``<prefix><org>_<ns>`` so that activate
#: can tell its own old ones from anything else loaded into varnishd.
VCL_PREFIX = "ltd_"
#: How long activate waits for varnishadm.
ADM_TIMEOUT = 10

#: Every request header the VCL uses for its own bookkeeping. A client's
#: copies are removed before anything reads them, and none reaches the
#: origin.
INTERNAL_HEADERS = (
    "Host",
    "Raw",
    "Product",
    "Root",
    "Site",
    "Meta",
    "Main",
    "MainNoindex",
    "Path",
    "Edition",
    "Ekey",
    "Build",
    "Tag",
    "ById",
    "Noindex",
    "PinPath",
    "Base",
    "Rest",
    "RawRest",
    "Asset",
    "Scan",
    "Pin",
    "Check",
    "Known",
    "Has404",
    "RuleBuild",
    "RulePath",
    "RuleRaw",
    "Target",
    "Status",
    "Location",
    "Step",
    "Key",
    "SetPin",
    "Synth",
)


def vcl_string(text: str) -> str:
    """``text`` as a VCL string expression (strings are also how VCL takes
    regular expressions).

    VCL strings know no escapes: a ``"…"`` string cannot hold ``"`` or a
    newline, a ``{"…"}`` string cannot hold ``"}``; a text with both is
    written in pieces (a long string of one ``"`` stands between them).
    """
    if "\0" in text:
        raise ValueError("VCL strings cannot hold NUL")
    if not re.search(r'["\x00-\x1f\x7f]', text):
        return f'"{text}"'
    quote = '{"' + '"' + '"}'  # the long string holding one double quote
    pieces = text.split('"}')
    return f' + {quote} + "}}" + '.join(f'{{"{piece}"}}' for piece in pieces)


def _alternation(values: Iterable[str]) -> str | None:
    """A regex group matching any of ``values``, or None for none."""
    items = sorted(set(values))
    if not items:
        return None
    return "(?:" + "|".join(re.escape(v) for v in items) + ")"


@dataclass(frozen=True)
class VclRule:
    """A redirect rule as VCL: the regex its source becomes and the
    expression of its target, ``:splat`` filled in."""

    regex: str
    target: str
    status: int


def _rule(rule: Rule, subject: str, raw: str) -> VclRule:
    """``rule`` matched against the header ``subject`` (a decoded path); its
    splat is taken from the header ``raw``, the same path as the client
    encoded it (:func:`keeper.edge.redirects.splat_of`)."""
    source = redirects.pattern(rule)
    if rule.splat:
        depth = rule.source[:-2].count("/")
        splat = f'regsub({raw}, "^(?:/[^/]*){{{depth}}}/?(.*)$", "\\1")'
        target = f" + {splat} + ".join(
            vcl_string(piece) for piece in rule.target.split(":splat")
        )
    else:
        target = vcl_string(rule.target)
    return VclRule(regex=vcl_string(source), target=target, status=rule.status)


@dataclass(frozen=True)
class VclEdition:
    slug: str
    build: str
    noindex: bool
    #: For regsuball() on the Cookie header: what is left is the builds the
    #: edition's pins name, in order, each followed by a space.
    pin_regex: str


def _pin_regex(edition: str) -> str:
    # One ``;``-separated part at a time, parsed as rules.pins() does: a pin
    # for this edition with a well-formed build id leaves its build, any
    # other part nothing; blanks around a part do not count.
    return vcl_string(
        r"(^|;)(?:\s*"
        + re.escape(f"{rules.PIN_COOKIE}={edition}~")
        + r"([a-z0-9]{1,32})\s*(?=;|$))?[^;]*"
    )


@dataclass(frozen=True)
class VclSite:
    """One product's data, ready for ``editions.vcl``."""

    view: SiteView
    path_layout: bool
    #: Matches the path-layout root at the start of a path.
    root_regex: str
    #: Editions that show a build.
    editions: list[VclEdition]
    #: Regex group of the product's complete builds, of those with a
    #: ``404.html``.
    known: str | None
    has_404: str | None
    rules: list[VclRule]
    #: Each build's ``_redirects`` rules, for builds that have some.
    build_rules: dict[str, list[VclRule]]
    platform_page: str


def _site(ctx: RenderContext, view: SiteView) -> VclSite:
    editions = [
        VclEdition(e.slug, e.build, e.noindex, _pin_regex(e.slug))
        for e in sorted(view.editions.values(), key=lambda e: e.slug)
        if e.build is not None and e.slug
    ]
    with_404 = [b for b in view.builds if NOT_FOUND_PAGE in ctx.pages.get(b, ())]
    builds = sorted(view.builds.values(), key=lambda b: b.public_id)
    return VclSite(
        view=view,
        path_layout=bool(view.root),
        root_regex=vcl_string("^" + re.escape(view.root) + "(?=/|$)"),
        editions=editions,
        known=_alternation(view.builds),
        has_404=_alternation(with_404),
        rules=[
            _rule(r, "req.http.X-Ltd-Path", "req.http.X-Ltd-Raw")
            for r in view.redirects
        ],
        build_rules={
            b.public_id: [
                _rule(r, "req.http.X-Ltd-RulePath", "req.http.X-Ltd-RuleRaw")
                for r in b.redirects
            ]
            for b in builds
            if b.redirects
        },
        platform_page=vcl_string(ctx.platform_pages.get(view.product, "")),
    )


@dataclass(frozen=True)
class Backend:
    """Where varnishd fetches an org's objects and how it asks."""

    host: str
    port: int
    #: Put before an org key (``<product>/builds/…``) to make the URL path.
    path_prefix: str
    #: The Host header the origin expects.
    host_header: str
    #: The origin's statuses that mean "no such object".
    missing: tuple[int, ...]
    #: Headers every fetch carries (the secret of keeper's origin route).
    headers: dict[str, str]


def _backend(ctx: RenderContext) -> Backend:
    origin = ctx.origin
    if origin.kind == "s3":
        if origin.https:
            raise UnsupportedOrigin(
                f"Varnish cannot fetch from {origin.endpoint}: it speaks no "
                "TLS to backends; give it an http:// endpoint or a TLS proxy "
                "(hitch, stunnel) in between"
            )
        host, port = origin.host_port
        return Backend(
            host=host,
            port=port,
            path_prefix=quote(origin.path_prefix, safe="/"),
            host_header=_host_header(host, port),
            # Anonymous GETs: S3 answers 403 for a missing key when the
            # bucket may not be listed.
            missing=(403, 404),
            headers={},
        )
    if origin.kind == "filesystem":
        return _keeper_backend(ctx)
    raise UnsupportedOrigin(f"Varnish cannot read a {origin.kind!r} store")


def _keeper_backend(ctx: RenderContext) -> Backend:
    """Keeper's origin route, for a store varnishd cannot read itself."""
    parts = urlsplit(ctx.keeper_url)
    if parts.scheme != "http" or not parts.hostname:
        raise UnsupportedOrigin(
            "Varnish reads a filesystem store through keeper, at a plain "
            f"http:// base URL (KEEPER_BASE_URL), not {ctx.keeper_url!r}"
        )
    port = parts.port or 80
    path = f"{parts.path.rstrip('/')}{ORIGIN_PATH}/{ctx.org}/"
    return Backend(
        host=parts.hostname,
        port=port,
        path_prefix=quote(path, safe="/"),
        host_header=_host_header(parts.hostname, port),
        missing=(404,),
        headers={SECRET_HEADER: ctx.origin_secret},
    )


def _host_header(host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == 80 else f"{name}:{port}"


def _environment() -> Environment:
    return environment("varnish", vcl=vcl_string)


class VarnishTarget:
    name = "varnish"

    def render(self, ctx: RenderContext) -> dict[str, str]:
        backend = _backend(ctx)
        env = _environment()
        values: dict[str, Any] = {
            "ctx": ctx,
            "backend": backend,
            "internal": INTERNAL_HEADERS,
            "amz": AMZ_HEADERS,
            "bad_raw_path": rules.BAD_RAW_PATH,
            "host": rules.HOST,
            "target_too_long": rules.TARGET_TOO_LONG,
            "path_too_long": rules.PATH_TOO_LONG,
            "max_target": MAX_EDGE_TARGET_BYTES,
            "utf8_path": rules.UTF8_PATH,
            "asset_path": rules.ASSET_PATH,
            "page_extensions": "(?i)(?:"
            + "|".join(re.escape(e) for e in rules.PAGE_EXTENSIONS)
            + ")$",
            "immutable": rules.IMMUTABLE,
            "revalidate": rules.REVALIDATE,
            "pin_cookie": rules.PIN_COOKIE,
            "main_edition": MAIN_EDITION,
            "not_found_page": NOT_FOUND_PAGE,
            "index_page": INDEX_PAGE,
            "data_file": DATA_FILE,
            "generated": generated_pages(),
            "dashboard_dirs": DASHBOARD_DIRS_REGEX,
            "sites": [_site(ctx, s) for s in ctx.sites],
        }
        return {
            MAIN_FILE: env.get_template("default.vcl.j2").render(values),
            DATA_FILE: env.get_template("editions.vcl.j2").render(values),
        }

    def command(self, ctx: RenderContext) -> str:
        host = f"[{ctx.listen_host}]" if ":" in ctx.listen_host else ctx.listen_host
        parts = ["varnishd"]
        name = ctx.settings.get("varnish_name")
        if name:
            parts += ["-n", str(name)]
        parts += [
            "-f",
            str(ctx.out_dir / MAIN_FILE),
            "-a",
            f"{host}:{ctx.listen_port}",
            "-s",
            "malloc,256m",
        ]
        return shlex.join(parts)

    def activate(self, ctx: RenderContext, changed: Sequence[SiteView]) -> None:
        """Load the files just written into the running varnishd and make
        them the active configuration; discard the ones this replaced.

        ``changed`` needs no ban: objects are cached by build, and builds
        never change, so what an edition shows changes with the VCL alone.
        """
        del changed
        adm = _Admin.find(ctx.settings.get("varnish_name"))
        if adm is None:
            return
        lock_path = ctx.out_dir / ".varnish-activate.lock"
        with open(lock_path, "a") as lock:
            # Two publishes at once must not discard each other's VCL
            # between its load and its use.
            fcntl.flock(lock, fcntl.LOCK_EX)
            name = f"{VCL_PREFIX}{_vcl_name(ctx.org)}_{time.time_ns()}"
            adm.run("vcl.load", name, str((ctx.out_dir / MAIN_FILE).resolve()))
            adm.run("vcl.use", name)
            for old in adm.discardable(keep=name):
                try:
                    adm.run("vcl.discard", old)
                except RuntimeError as exc:  # still busy: the next publish retries
                    log.info("varnishd kept %s: %s", old, exc)


def _vcl_name(org: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", org)


@dataclass(frozen=True)
class _Admin:
    """varnishadm for one varnishd instance."""

    binary: str
    name: str | None

    @classmethod
    def find(cls, name: object) -> _Admin | None:
        """The running instance ``name`` (varnishd's ``-n``), or None when
        no varnishd runs for it."""
        binary = shutil.which("varnishadm")
        if binary is None:
            return None
        instance = str(name) if name else None
        if instance and "/" in instance and not _alive(Path(instance)):
            return None
        adm = cls(binary, instance)
        try:
            adm.run("ping", timeout=3)
        except (RuntimeError, subprocess.TimeoutExpired):
            return None
        return adm

    def run(self, *args: str, timeout: float = ADM_TIMEOUT) -> str:
        command = [self.binary, "-t", str(int(timeout))]
        if self.name:
            command += ["-n", self.name]
        result = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"varnishadm {' '.join(args)} failed: "
                f"{(result.stdout + result.stderr).strip()}"
            )
        return result.stdout

    def discardable(self, *, keep: str) -> list[str]:
        """Configurations this module loaded (and varnishd's boot one, our
        rendered file too) that are no longer active."""
        listing = json.loads(self.run("vcl.list", "-j"))
        found = []
        for item in listing[3:] if isinstance(listing, list) else []:
            if not isinstance(item, dict):
                continue
            name = str(item.get("name", ""))
            if name == keep or item.get("status") in ("active", "discarded"):
                continue
            if name.startswith(VCL_PREFIX) or name == "boot":
                found.append(name)
        return found


def _alive(workdir: Path) -> bool:
    """Does the varnishd that uses ``workdir`` still run?"""
    try:
        pid = int((workdir / "_.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


TARGET = VarnishTarget()
