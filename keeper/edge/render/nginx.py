"""nginx for an org's sites: the edge contract as maps and named locations.

``render`` writes a configuration that runs as is with
``nginx -p DIR -c DIR/nginx.conf``:

- ``nginx.conf``: the logic of :mod:`keeper.edge.rules`, the same for
  every org (templates/nginx/nginx.conf.j2);
- ``sites.conf``: the org's data as ``map`` blocks: hosts, editions,
  builds, pins, redirect rules, directories and 404 pages
  (templates/nginx/sites.conf.j2);
- ``mime.types``: the content types ``ltd upload`` gives files;
- ``platform/<product>.html``: the platform's 404 pages.

How nginx answers, in the terms of :func:`keeper.edge.rules.resolve`:

- ``location /`` (``@edge`` over a folder, see below) decides everything
  no file is needed for: bad paths, product rules, routing, ``/v/x`` →
  ``/v/x/`` and whether a pin cookie applies; then it jumps to a named
  location (``error_page 418 = @…`` and ``return 418`` is nginx's only
  goto).
- ``@pinned`` tries the asset in the pinned build, ``@current`` applies the
  build's ``_redirects`` and fetches the file; a missing object (404, or
  403 from S3) falls through to the next step, ``@missing``: the ``/a`` →
  ``/a/`` redirect, then the 404 chain, whose page is known at render time
  (:attr:`RenderContext.pages`), so nginx never asks the store whether a
  ``404.html`` or ``a/index.html`` exists.
- ``has(build, path)`` is the fetch itself: ``try_files`` over a folder, or
  a proxied GET to S3 with ``proxy_intercept_errors``.
- Over a folder, ``location /`` is first a fast path for the commonest
  request: a GET or HEAD of a file of the default edition of a product with
  a host of its own and no redirect rules (the product's or that build's),
  by a path that needs no decoding (:data:`FAST_PATHS`) and with no pin
  cookie that could apply. Its answer (headers included) is worked out at
  render time (:func:`fast_maps`), so it costs a few hash lookups and one
  regular expression instead of the general path's dozens; anything else,
  and a file that is not there, starts the general path, ``@edge``, which
  is ``location /`` over S3 (a fetch there rewrites ``$uri``, which the
  general path reads). Nothing else differs between the two origins.

Every lookup in the org's data is a hash lookup, so a request costs the
same for ten builds or ten thousand: hosts, editions, builds by id, rule
groups, exact redirect rules, directories. nginx compares exact ``map``
keys ignoring case while editions (``Foo`` and ``foo``), paths and rules
are case-sensitive: such a map's value lists the keys it stands for, one per
line, and a generic regular expression picks the line of the key asked for.
Only rules ending in ``*`` are regular expressions tried in turn, once per
distinct set of rules (builds with the same ``_redirects`` share one). The
rule maps are ``volatile``: they are asked for the product's rules, the
pinned build's and the current build's in one request.

Hostile requests (:func:`keeper.edge.rules.resolve`, step 0): nginx itself
refuses a missing, repeated or malformed Host, request lines over 8 KiB
(414) and header fields over 8 KiB (400); the maps refuse the Host headers
it lets through that are no host name, and targets over
``MAX_EDGE_TARGET_BYTES`` (414), before the site is looked up. A fragment
sent raw is dropped, as nginx drops it from ``$uri``. ``max_ranges 1``
answers several ranges with the whole file. Over S3 only a single, well
formed range is asked of the store; nginx's own range filter
(``proxy_force_ranges``) applies any other to the whole object, as over a
folder, and a range S3 finds unsatisfiable is answered from the whole
object too (S3's 416 lacks the ``Content-Range``).

An S3 origin is read with anonymous GETs (nginx cannot sign): the bucket
needs a policy granting ``s3:GetObject`` on the org's prefix. Where nginx
answers differently from :func:`~keeper.edge.rules.resolve` and the built-in
edge:

- a body over ``client_max_body_size`` (1 MiB) gets 413 before the
  location's 405 can run;
- over S3, an ``If-None-Match`` listing several ETags is S3's to compare
  (nginx revalidates a proxied answer only with a cache of its own), and S3
  compares it with one ETag: the file comes whole;
- over a folder, files typed by their whole name (``_redirects``) get
  ``default_type``, since nginx types by extension;
- over a folder, nginx's own 416 for an unsatisfiable range carries the
  edge's headers twice (its header filters run again for the error);
- of several ``ltd-pin`` cookies naming the same edition (duplicates from
  other paths or domains), the first three are looked at.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment

from keeper.db import MAIN_EDITION
from keeper.domain.content_types import BY_EXTENSION as KNOWN_TYPES
from keeper.domain.content_types import FALLBACK, content_type_for
from keeper.edge import redirects, rules
from keeper.edge.origin import AMZ_HEADERS, Origin, UnsupportedOrigin
from keeper.edge.redirects import Rule
from keeper.edge.render import RenderContext
from keeper.edge.render.generated import DASHBOARD_DIRS_REGEX, generated_pages
from keeper.edge.render.templating import environment
from keeper.edge.site import NOT_FOUND_PAGE, SiteView

MAIN_FILE = "nginx.conf"
DATA_FILE = "sites.conf"
TYPES_FILE = "mime.types"
PID_FILE = "nginx.pid"
ERROR_LOG = "logs/error.log"
PLATFORM_DIR = "platform"
#: ``--option`` names this target understands.
OPTIONS = {
    "user": "the user nginx workers run as (default: root when rendered as root)",
    "workers": "worker_processes (default: auto)",
    "nginx": "the nginx binary activate validates with (default: from PATH)",
}
#: Characters nothing can ask for: a request holding one is refused first.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Decoded paths that are not UTF-8 are refused like bad raw paths (the
#: built-in edge cannot decode them); the first pattern is the fast path.
ASCII_PATH = r"^[\x00-\x7F]*$"
UTF8_PATH = rules.UTF8_PATH
#: Raw paths (and query) the fast path takes: the decoded path is the raw
#: one byte for byte (printable ASCII without ``%``, ``#`` or ``\``; no
#: empty or dot-led segment, so no ``//``, ``.`` or ``..``), not ``/v``,
#: ``/builds`` or below them, and not ending in ``/``; the query, if any,
#: is printable ASCII. Such a target is never a bad one and its file is the
#: path itself. By what the path ends with, in the order tried: a page
#: (``.html``/``.htm``, any case), an asset
#: (:data:`keeper.edge.rules.ASSET_PATH`; the character before the dot is
#: never ``/``, as no segment starts with a dot), anything else (a page).
#: The folders are matched possessively: a path of many of them keeps no
#: backtracking state.
_FAST_FIRST = r"[^./?%#\\\x00-\x20\x7F-\xFF]"
_FAST_MORE = r"[^/?%#\\\x00-\x20\x7F-\xFF]*"
_FAST_HEAD = (
    r"^/(?!(?:v|builds)(?:[/?]|$))"
    rf"(?:{_FAST_FIRST}{_FAST_MORE}+/)*+{_FAST_FIRST}{_FAST_MORE}"
)
_FAST_END = r"(?:\?[\x21-\x7E]*+)?$"
FAST_PATHS = (
    ("page", _FAST_HEAD + r"\.(?i:html?)" + _FAST_END),
    ("asset", _FAST_HEAD + r"\.[A-Za-z0-9]+" + _FAST_END),
    ("page", _FAST_HEAD + _FAST_END),
)


class NginxError(RuntimeError):
    """nginx refused the configuration, or could not be told about it."""


# -- nginx syntax ------------------------------------------------------------


def _escape(text: str) -> str:
    """``text`` inside an nginx ``"…"`` string, backslashes and quotes
    escaped (nginx unescapes ``\\\\`` and ``\\"``)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def quote(text: str) -> str:
    """An nginx string whose ``$`` means a variable (paths, regexes)."""
    return f'"{_escape(text)}"'


def literal(text: str) -> str:
    """Text for a value nginx interpolates, to be taken literally: ``$``
    becomes ``${ltd_dollar}`` (nginx has no escape for it)."""
    return _escape(text).replace("$", "${ltd_dollar}")


def _value(text: str) -> str:
    """A ``map`` value that is ``text`` as is."""
    return f'"{literal(text)}"'


def regex_key(pattern: str) -> str:
    """A case-sensitive regular expression as a ``map`` key."""
    return quote("~" + pattern)


#: Words a ``map`` block reads as its own parameters, not as keys.
_MAP_PARAMETERS = {"default", "hostnames", "include", "volatile"}


def hash_key(text: str) -> str:
    """An exact ``map`` key (nginx compares those ignoring case)."""
    special = text in _MAP_PARAMETERS or text.startswith(("~", "\\"))
    return quote("\\" + text if special else text)


@dataclass
class NginxMap:
    """One ``map`` block of sites.conf."""

    source: str
    variable: str
    comment: str
    volatile: bool = False
    #: ``(key, value)``, both already in nginx syntax, in matching order.
    entries: list[tuple[str, str]] = field(default_factory=list)
    #: Exact keys (lower case) and the lines their value lists (see
    #: :meth:`line`); written after ``entries``.
    lines: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, value: str) -> None:
        self.entries.append((key, value))

    def line(self, key: str, *fields: str) -> None:
        """Add ``key`` for an exact, case-sensitive lookup.

        nginx finds exact keys ignoring case, so the value lists every key
        that differs from the others in case alone, one per line
        (``key<TAB>field…<LF>``); a generic regular expression in
        nginx.conf then picks the line of the key asked for, if any.
        """
        text = "\t".join((key, *fields)) + "\n"
        self.lines.setdefault(key.lower(), []).append(text)

    def written(self) -> Iterator[tuple[str, str]]:
        yield from self.entries
        for key, texts in self.lines.items():
            value = literal("".join(texts)).replace("\t", "\\t").replace("\n", "\\n")
            yield hash_key(key), f'"{value}"'

    def __len__(self) -> int:
        return len(self.entries) + len(self.lines)


def longest_key(maps: Iterable[NginxMap]) -> int:
    return max((len(key) for m in maps for key, _ in m.written()), default=0)


# -- redirect rules ----------------------------------------------------------


def _live(rules_: Sequence[Rule]) -> list[Rule]:
    """The rules that can ever apply: an exact rule for a path an earlier
    rule already matches never does. (So when an exact rule matches, it is
    the first that does, and otherwise the first splat rule that matches is.)
    """
    return [
        rule
        for index, rule in enumerate(rules_)
        if rule.splat or not redirects.match(rules_[:index], rule.source)
    ]


def add_rules(
    group: str, rules_: Sequence[Rule], exact: NginxMap, splat: NginxMap
) -> None:
    """``group``'s rules: exact ones as lines of ``exact`` (keyed by
    ``<group>:<path>``), splat ones as regular expressions of ``splat`` on
    ``<group>:<decoded path>\\n<raw path>``; both give
    ``<status>\\t<target>``.

    A splat's text is taken from the raw path (the same segments, still
    percent-encoded), so the Location is a valid URL as the client wrote it.
    """
    for rule in _live(rules_):
        if not rule.splat:
            exact.line(f"{group}:{rule.source}", str(rule.status), rule.target)
            continue
        decoded = redirects.pattern(rule).removeprefix("^").removesuffix("$")
        depth = rule.source[:-2].count("/")
        # Group 1 is the decoded splat (from pattern()), group 2 the raw one.
        raw = f"(?:/[^/]*){{{depth}}}(?:/(.*))?$"
        target = "$2".join(literal(part) for part in rule.target.split(":splat"))
        splat.add(
            regex_key(f"^{re.escape(group)}:{decoded}\\n{raw}"),
            f'"{rule.status}\\t{target}"',
        )


# -- the org's data ----------------------------------------------------------


def _clean(text: str) -> bool:
    """Whether a request could name ``text`` at all."""
    return not _CONTROL.search(text)


def data_maps(ctx: RenderContext, *, fast: bool = True) -> list[NginxMap]:
    host_site = NginxMap(
        "$host", "$ltd_host_site", "Products with a host of their own."
    )
    path_site = NginxMap(
        '"$host/$ltd_first_segment"',
        "$ltd_path_site",
        "Products of the path layout: the base domain and the first segment.",
    )
    root = NginxMap("$ltd_site", "$ltd_root", "Where the site is rooted.")
    key = NginxMap("$ltd_site", "$ltd_site_key", "The product's surrogate key.")
    prefix = NginxMap(
        "$ltd_site", "$ltd_builds_prefix", "Where the product's builds are stored."
    )
    meta = NginxMap(
        "$ltd_site",
        "$ltd_meta_prefix",
        "Where the pages keeper generates for the product are stored.",
    )
    editions = NginxMap(
        '"$ltd_site/$ltd_route/$ltd_name"',
        "$ltd_edition_lines",
        "Editions with a build: <product>/v/<slug> (and <product>/main/__main) "
        "-> build, noindex.",
    )
    known = NginxMap(
        '"$ltd_site/$ltd_probe"',
        "$ltd_known_build",
        "The product's complete builds, by id (ids are lower case, so an exact "
        "lookup is case-sensitive). Volatile: asked for a build id in the "
        "path, then for each pin cookie's.",
        volatile=True,
    )
    groups = NginxMap(
        "$ltd_rules_of",
        "$ltd_rule_group",
        "Who has redirect rules (@<product> for product rules, build ids for "
        "_redirects): the group of rules, shared by those with the same ones.",
        volatile=True,
    )
    exact_rules = NginxMap(
        '"$ltd_rule_group:$ltd_rules_path"',
        "$ltd_exact_rule_lines",
        "Rules for one path: <group>:<path> -> status, target.",
        volatile=True,
    )
    splat_rules = NginxMap(
        '"$ltd_rule_group:$ltd_rules_path\\n$ltd_rules_raw"',
        "$ltd_splat_rule",
        "Rules for a path and what is below it, in order: status, target.",
        volatile=True,
    )
    dirs = NginxMap(
        '"$ltd_build:$ltd_rest"',
        "$ltd_dir_lines",
        "Directories with an index.html, <build>:<dir>: /a redirects to /a/.",
    )
    not_found = NginxMap(
        "$ltd_build",
        "$ltd_not_found_build",
        "Whose 404.html answers for a build's missing pages: its own, else "
        "the default edition's.",
    )
    rule_groups: dict[tuple[Rule, ...], str] = {}

    def rules_of(owner: str, found: Sequence[Rule]) -> None:
        if not found:
            return
        rules_key = tuple(found)
        if rules_key not in rule_groups:
            group = rule_groups[rules_key] = f"g{len(rule_groups) + 1}"
            add_rules(group, rules_key, exact_rules, splat_rules)
        groups.add(hash_key(owner), rule_groups[rules_key])

    for view in ctx.sites:
        slug = view.product
        if view.root:
            path_site.add(hash_key(f"{view.host}/{view.root[1:]}"), slug)
        else:
            host_site.add(hash_key(view.host), slug)
        root.add(hash_key(slug), quote(view.root))
        key.add(hash_key(slug), quote(view.key()))
        prefix.add(hash_key(slug), quote(view.builds_prefix))
        meta.add(hash_key(slug), quote(view.meta_prefix))
        for edition in view.editions.values():
            if edition.build is None or not edition.slug or not _clean(edition.slug):
                continue
            flag = "noindex" if edition.noindex else ""
            editions.line(f"{slug}/v/{edition.slug}", edition.build, flag)
            if edition.slug == MAIN_EDITION:
                editions.line(f"{slug}/main/{MAIN_EDITION}", edition.build, flag)
        rules_of(f"@{slug}", view.redirects)
        main = view.main.build if view.main else None
        for build_id, build in sorted(view.builds.items()):
            known.add(hash_key(f"{slug}/{build_id}"), build_id)
            rules_of(build_id, build.redirects)
            pages = ctx.pages.get(build_id, frozenset())
            for page in sorted(pages):
                if page.endswith("/") and page != "/" and _clean(page):
                    dirs.line(f"{build_id}:{page.removesuffix('/')}")
            for candidate in (build_id, main):
                if candidate and NOT_FOUND_PAGE in ctx.pages.get(candidate, ()):
                    not_found.add(hash_key(build_id), candidate)
                    break
    return [
        host_site,
        path_site,
        root,
        key,
        prefix,
        meta,
        editions,
        known,
        groups,
        exact_rules,
        splat_rules,
        dirs,
        not_found,
        *(fast_maps(ctx.sites) if fast else ()),
    ]


def fast_maps(sites: Iterable[SiteView]) -> list[NginxMap]:
    """The fast path's data, by host: for each product with a host of its
    own, no product rules, and a default edition whose build has no
    ``_redirects`` rules, what the general path would work out for a file of
    that build (:func:`keeper.edge.rules.resolve` steps 2 to 5 decide
    nothing there), with the same values nginx.conf's maps give.
    """
    fetch = NginxMap(
        "$host",
        "$ltd_fast_prefix",
        "Fast path: where the default edition's files are (empty: no fast path).",
    )
    surrogate = NginxMap("$host", "$ltd_fast_sk", "Fast path: Surrogate-Key.")
    tag = NginxMap("$host", "$ltd_fast_ct", "Fast path: Cache-Tag.")
    robots = NginxMap("$host", "$ltd_fast_robots", "Fast path: X-Robots-Tag.")
    cookie = NginxMap(
        "$host", "$ltd_fast_page_cookie", "Fast path: the cookie a page sets."
    )
    hosts: set[str] = set()
    for view in sites:
        if view.root:
            continue
        # nginx keeps the first of keys that differ in case alone.
        first = view.host.lower() not in hosts
        hosts.add(view.host.lower())
        # The edition the general path finds (data_maps: the first line).
        main = next(
            (
                e
                for e in view.editions.values()
                if e.slug == MAIN_EDITION and e.build is not None
            ),
            None,
        )
        if not first or main is None or main.build is None or view.redirects:
            continue
        build = view.builds.get(main.build)
        if build is not None and build.redirects:
            continue
        site_key = view.key()
        keys = [site_key, f"{site_key}/v/{MAIN_EDITION}"]
        keys.append(f"{site_key}/builds/{main.build}")
        host = hash_key(view.host)
        fetch.add(host, _value(f"/{view.builds_prefix}{main.build}"))
        surrogate.add(host, _value(" ".join(keys)))
        tag.add(host, _value(",".join(keys)))
        robots.add(host, _value("noindex" if main.noindex else ""))
        page_cookie = rules.pin_cookie(MAIN_EDITION, main.build, f"{view.root}/")
        cookie.add(host, _value(page_cookie))
    return [fetch, surrogate, tag, robots, cookie]


# -- content types -----------------------------------------------------------


def types_block() -> str:
    """A ``types`` block giving each extension the type ``ltd upload``
    stores it with (conveyor's table, then the host's ``mimetypes``).

    nginx types by extension only: files typed by their whole name
    (``_redirects``) get ``default_type`` from a folder origin; S3 answers
    with the type stored at upload.
    """
    mimetypes.init()
    candidates = {
        *KNOWN_TYPES,
        *mimetypes.types_map,
        *mimetypes.common_types,
        # Archives, never typed as their content (content_type_for).
        ".gz",
        ".tgz",
    }
    by_type: dict[str, list[str]] = {}
    for suffix in sorted(s.lower() for s in candidates):
        extension = suffix.removeprefix(".")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_+-]*", extension):
            continue
        content_type = content_type_for(f"file{suffix}")
        if content_type != FALLBACK:  # that one is default_type
            by_type.setdefault(content_type, []).append(extension)
    lines = [
        "# Content types as `ltd upload` stores them (conveyor/content_types.py).",
        "types {",
    ]
    for content_type in sorted(by_type):
        extensions = " ".join(sorted(set(by_type[content_type])))
        lines.append(f"    {quote(content_type)} {extensions};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- the target ----------------------------------------------------------------


def _environment() -> Environment:
    return environment("nginx", q=quote, lit=literal)


@dataclass(frozen=True)
class _Store:
    """The origin as the template needs it."""

    kind: str
    root: str = ""
    #: s3: ``server`` of the upstream, Host header, scheme, path before keys.
    server: str = ""
    host_header: str = ""
    scheme: str = "http"
    path_prefix: str = ""


def _store(origin: Origin) -> _Store:
    if origin.kind == "filesystem" and origin.root is not None:
        return _Store("filesystem", root=str(Path(origin.root).resolve()))
    if origin.kind == "s3" and origin.endpoint and origin.bucket:
        host, port = origin.host_port
        if ":" in host:
            host = f"[{host}]"
        default = 443 if origin.https else 80
        return _Store(
            "s3",
            server=f"{host}:{port}",
            host_header=host if port == default else f"{host}:{port}",
            scheme="https" if origin.https else "http",
            path_prefix=origin.path_prefix,
        )
    raise UnsupportedOrigin(f"nginx cannot read from a {origin.kind!r} origin")


def _options(settings: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(settings) - set(OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown nginx option {', '.join(unknown)}; use "
            + ", ".join(f"{name} ({doc})" for name, doc in OPTIONS.items())
        )
    options = {name: str(value) for name, value in settings.items()}
    for name in ("user", "workers"):
        value = options.get(name)
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError(f"nginx option {name} cannot be {value!r}")
    return options


def _listen(ctx: RenderContext) -> str:
    host = f"[{ctx.listen_host}]" if ":" in ctx.listen_host else ctx.listen_host
    return f"{host}:{ctx.listen_port}"


def _binary(settings: Mapping[str, Any]) -> str | None:
    configured = settings.get("nginx")
    if configured:
        return str(configured)
    # Debian puts nginx in /usr/sbin, which a user's PATH may lack.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


class NginxTarget:
    name = "nginx"

    def render(self, ctx: RenderContext) -> dict[str, str]:
        options = _options(ctx.settings)
        out = ctx.out_dir.resolve()
        user = options.get("user")
        if user is None and os.geteuid() == 0:
            user = "root"
        env = _environment()
        # The fast path needs a folder: a fetch from S3 rewrites $uri,
        # which the general path reads when the file is missing.
        fast = ctx.origin.kind == "filesystem"
        maps = data_maps(ctx, fast=fast)
        values = {
            # Room for the largest map and its longest key (nginx refuses
            # to start when either does not fit).
            "map_hash_max_size": max(2048, 2 * max(map(len, maps))),
            "map_hash_bucket_size": max(128, -(-(longest_key(maps) + 40) // 64) * 64),
            "org": ctx.org,
            "dir": str(out),
            "command": self.command(ctx),
            "user": user,
            "workers": options.get("workers", "auto"),
            "listen": _listen(ctx),
            "store": _store(ctx.origin),
            "amz_headers": AMZ_HEADERS,
            "bad_raw_path": rules.BAD_RAW_PATH,
            "host": rules.HOST,
            "target_too_long": rules.TARGET_TOO_LONG,
            "key_too_long": rules.PATH_TOO_LONG,
            "ascii_path": ASCII_PATH,
            "utf8_path": UTF8_PATH,
            "fast": fast,
            "fast_paths": FAST_PATHS,
            "generated": generated_pages(),
            "dashboard_dirs": DASHBOARD_DIRS_REGEX,
            "asset_path": rules.ASSET_PATH,
            "immutable": rules.IMMUTABLE,
            "revalidate": rules.REVALIDATE,
            "pin_cookie": rules.PIN_COOKIE,
            "not_found_page": NOT_FOUND_PAGE,
            "index_page": "index.html",
            "main_edition": MAIN_EDITION,
        }
        files = {
            MAIN_FILE: env.get_template("nginx.conf.j2").render(values),
            DATA_FILE: env.get_template("sites.conf.j2").render(org=ctx.org, maps=maps),
            TYPES_FILE: types_block(),
            # nginx opens its logs and temp folders before anything else
            # and creates neither parent: these files make both exist.
            "logs/README": "nginx's error and access logs.\n",
            "temp/README": "nginx's temporary files.\n",
        }
        for product, page in ctx.platform_pages.items():
            files[f"{PLATFORM_DIR}/{product}.html"] = page
        return files

    def command(self, ctx: RenderContext) -> str:
        out = ctx.out_dir.resolve()
        binary = _binary(ctx.settings) or "nginx"
        return shlex.join(
            [
                binary,
                "-p",
                str(out),
                "-c",
                str(out / MAIN_FILE),
                "-e",
                str(out / ERROR_LOG),
            ]
        )

    def activate(self, ctx: RenderContext, changed: Sequence[SiteView]) -> None:
        """Make the nginx running on ``ctx.out_dir`` load the files just
        written, once ``nginx -t`` accepts them; raises :class:`NginxError`
        (and nginx keeps its configuration) when it does not.

        Without a running nginx there is nothing to do: it reads the files
        when it starts. ``changed`` needs no purge: nginx caches nothing.
        """
        del changed
        out = ctx.out_dir.resolve()
        pid = running_pid(out)
        if pid is None:
            return
        binary = _binary(ctx.settings)
        if binary is None:
            raise NginxError(
                "an nginx runs on the configuration in "
                f"{out}, but no nginx binary is on PATH to check the new files "
                "with; name it with `--option nginx=PATH`"
            )
        check = subprocess.run(
            [binary, "-t", "-q", "-p", str(out), "-c", str(out / MAIN_FILE)]
            + ["-e", str(out / ERROR_LOG)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check.returncode != 0:
            raise NginxError(
                f"nginx refused the configuration in {out / MAIN_FILE}, so the "
                f"running nginx keeps the previous one: {check.stderr.strip()}"
            )
        old = _workers(pid)
        try:
            # SIGHUP is `nginx -s reload`: new workers start on the new
            # files, old ones finish their requests.
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            return  # it stopped meanwhile; it reads the files when it starts
        except PermissionError as exc:
            raise NginxError(f"cannot tell nginx (pid {pid}) to reload: {exc}") from exc
        _wait_for_reload(pid, old)


#: How long a reload may take before activate returns anyway.
RELOAD_SECONDS = 10.0


def _workers(master: int) -> set[int]:
    """The pids of the processes ``master`` started (Linux's /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid …": comm may hold spaces, so split
            # after its closing parenthesis.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(master):
            found.add(int(stat.parent.name))
    return found


def _wait_for_reload(master: int, old: set[int]) -> None:
    """Return once the workers that ran the old files are gone, so that a
    request sent after the reload is answered by the new ones (reload is
    asynchronous: the caller reports the new state as applied)."""
    if not Path("/proc").is_dir() or not old:
        return
    deadline = time.monotonic() + RELOAD_SECONDS
    while time.monotonic() < deadline:
        if not old & _workers(master):
            return
        time.sleep(0.02)


def running_pid(out_dir: Path) -> int | None:
    """The pid of the nginx master running on ``out_dir``, or None."""
    try:
        pid = int((out_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it runs, as someone else
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.exists():
        try:
            if b"nginx" not in cmdline.read_bytes():
                return None  # a stale pid file, the number reused
        except OSError:
            return None
    return pid


TARGET = NginxTarget()
