"""The edge contract as one table: every edge must give these answers.

Each case is a request (method, raw path, headers) and what must come back
(status, headers, a marker in the body). ``{main}``, ``{old}``, ``{draft}``
and ``{plain}`` in paths, headers and expectations stand for the demo
org's build ids (see ``tests/edge/demo.py``). :func:`run_case` writes the
request byte for byte on a socket of its own, so the traversal cases reach
the edge unnormalised and the hostile ones (no Host, two Hosts, absolute
targets, huge headers, bodies) reach it as a hostile client sends them.

The table's last part is those hostile requests: a clear 4xx (or the right
404 or redirect), never a 5xx, never a hang, never a file from outside the
build the request names. Where nginx or Varnish answer before any
configuration keeper writes can run, and cannot be made to answer as the
others do, :attr:`Case.per_edge` records their answer and
:attr:`Case.why` says why.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from keeper.domain.content_types import content_type_for
from keeper.domain.limits import MAX_EDGE_TARGET_BYTES
from keeper.edge import rules
from keeper.edge.site import SiteView
from keeper.storage import ObjectStore
from tests.edge.demo import BIG, DOMAIN, HOST, MAIN, PLAIN_HOST

#: Header expectations: a string must equal the header, ``re:`` starts a
#: regular expression it must match, ``has:`` names a token it must list
#: (space or comma separated), and None means the header must be absent.
Expect = str | None

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HTML = "re:^text/html"
NOINDEX = "noindex"
PLATFORM_404 = 'name="ltd-page" content="platform-404"'
EDITIONS_PAGE = 'name="ltd-page" content="editions"'
BUILDS_PAGE = 'name="ltd-page" content="builds"'


#: The edges, by the names :attr:`Case.per_edge` uses.
EDGES = ("builtin", "nginx", "varnish", "fastly")
#: A "status" meaning: the server closes the connection without an answer.
CLOSED = 0


@dataclass(frozen=True)
class Case:
    name: str
    #: The request target, sent as is (latin-1 bytes).
    path: str
    status: int
    method: str = "GET"
    #: The Host header's value; None sends none.
    host: str | None = HOST
    request_headers: Mapping[str, str] = field(default_factory=dict)
    #: More header lines, after the others (a second ``Host``).
    extra_headers: tuple[tuple[str, str], ...] = ()
    http_version: str = "HTTP/1.1"
    #: Sent after the headers, with a Content-Length unless the request
    #: headers say ``Transfer-Encoding``.
    request_body: bytes | None = None
    headers: Mapping[str, Expect] = field(default_factory=dict)
    #: Text the body must contain.
    marker: str | None = None
    #: Text the body must not contain.
    forbidden: str | None = None
    #: The exact body.
    body: bytes | None = None
    #: Send first without, then with ``If-None-Match`` from the answer.
    conditional: bool = False
    #: ETags sent before the answer's in that ``If-None-Match``.
    other_etags: int = 0
    #: The status an edge (or an edge over one store: ``nginx-s3``) gives
    #: instead of ``status`` (or :data:`CLOSED`), where it answers before
    #: any configuration keeper writes can run, or leaves the answer to
    #: another server. Only the status and ``forbidden`` are checked there.
    per_edge: Mapping[str, int] = field(default_factory=dict)
    #: Why ``per_edge`` differs.
    why: str = ""
    #: Why Fastly, rather than the VCL keeper writes for it, answers this
    #: request (its HTTP parsing, its limits, its cache): the model of
    #: Fastly's VCL leaves such a case out.
    left_to_fastly: str | None = None

    def expected_status(self, edge: str) -> int:
        """The status ``edge`` (``nginx``, or ``nginx-s3`` for nginx over
        S3) must give."""
        name = edge.partition("-")[0]
        return self.per_edge.get(edge, self.per_edge.get(name, self.status))


def _edition(slug: str, build: str) -> dict[str, Expect]:
    return {
        "Surrogate-Key": f"re:^docs/demo docs/demo/v/{slug} docs/demo/builds/{build}$",
        "Cache-Tag": f"re:^docs/demo,docs/demo/v/{slug},docs/demo/builds/{build}$",
    }


#: A page keeper generates: about the product alone, revalidated, no pin.
GENERATED: dict[str, Expect] = {
    "Cache-Control": REVALIDATE,
    "Surrogate-Key": "docs/demo",
    "Cache-Tag": "docs/demo",
    "Set-Cookie": None,
    "ETag": "re:.",
}
GENERATED_HTML = {**GENERATED, "Content-Type": "text/html; charset=utf-8"}
GENERATED_JSON = {**GENERATED, "Content-Type": "application/json"}
MAIN_404 = "MAIN not-found page"

# Why Fastly answers some requests itself (see Case.left_to_fastly).
FASTLY_CACHE = "Fastly answers conditional requests and ranges from its cache"
FASTLY_HTTP = "Fastly parses the request (Host lines, versions, sizes) itself"

#: Bodies no edge takes: larger than nginx's client_max_body_size (1 MiB).
BIG_BODY = b"x" * (8 * 1024 * 1024)
#: A chunked body of 256 KiB, in one chunk.
CHUNKED_BODY = b"40000\r\n" + b"x" * 0x40000 + b"\r\n0\r\n\r\n"
#: Past what any edge takes: uvicorn's URL parser holds less than 64 KiB,
#: Varnish reads at most 32 KiB of a request (http_req_size).
TARGET_64K = "/" + "a" * (64 * 1024)
#: What nginx and Varnish answer before any configuration runs.
_BEFORE_CONFIG = {"nginx": 413}

CASES: list[Case] = [
    # -- the default edition at the root ------------------------------------
    Case(
        "root is main's index",
        "/",
        200,
        headers={
            "Content-Type": HTML,
            "Cache-Control": REVALIDATE,
            "X-Robots-Tag": None,
            "ETag": "re:.",
            "Set-Cookie": "re:^ltd-pin=__main~{main}; Path=/; SameSite=Lax",
            **_edition("__main", "{main}"),
        },
        marker="MAIN index",
    ),
    Case(
        "a page", "/page.html", 200, headers={"Content-Type": HTML}, marker="MAIN page"
    ),
    Case("an encoded space", "/a%20b.html", 200, marker="MAIN space"),
    Case("directory index", "/guide/", 200, marker="MAIN guide"),
    Case(
        "directory without slash redirects",
        "/guide",
        301,
        headers={"Location": "/guide/"},
    ),
    Case(
        "directory redirect keeps the query",
        "/guide?x=1",
        301,
        headers={"Location": "/guide/?x=1"},
    ),
    Case(
        "the default edition by name",
        "/v/__main/page.html",
        200,
        headers=_edition("__main", "{main}"),
        marker="MAIN page",
    ),
    # -- content types ---------------------------------------------------------
    Case(
        "css",
        "/_static/style.css",
        200,
        headers={"Content-Type": "re:^text/css", "Set-Cookie": None},
        marker="MAIN style",
    ),
    Case(
        "javascript",
        "/_static/app.js",
        200,
        headers={"Content-Type": "re:^(text|application)/javascript"},
        marker="build MAIN",
    ),
    Case("json", "/data.json", 200, headers={"Content-Type": "re:^application/json"}),
    Case("svg", "/img.svg", 200, headers={"Content-Type": "re:^image/svg\\+xml"}),
    # -- HEAD, conditional requests, ranges -----------------------------------
    Case(
        "HEAD has the headers and no body",
        "/",
        200,
        method="HEAD",
        headers={
            "Content-Type": HTML,
            "Content-Length": str(len(MAIN["index.html"])),
        },
        body=b"",
    ),
    Case(
        "If-None-Match gives 304",
        "/page.html",
        304,
        conditional=True,
        body=b"",
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "a byte range",
        "/big.bin",
        206,
        request_headers={"Range": "bytes=10-19"},
        headers={"Content-Range": f"bytes 10-19/{len(BIG)}"},
        body=BIG[10:20],
        left_to_fastly=FASTLY_CACHE,
    ),
    # -- other editions ---------------------------------------------------------
    Case(
        "a draft edition, not indexed",
        "/v/draft/",
        200,
        headers={
            "X-Robots-Tag": NOINDEX,
            "Cache-Control": REVALIDATE,
            "Set-Cookie": "re:^ltd-pin=draft~{draft}; Path=/v/draft/; SameSite=Lax",
            **_edition("draft", "{draft}"),
        },
        marker="DRAFT index",
    ),
    Case("edition without slash", "/v/draft", 301, headers={"Location": "/v/draft/"}),
    Case(
        "unknown edition is the platform page",
        "/v/nope/",
        404,
        headers={
            "Content-Type": HTML,
            "Cache-Control": REVALIDATE,
            "Surrogate-Key": "has:docs/demo/v/nope",
        },
        marker=PLATFORM_404,
        forbidden="MAIN not-found page",
    ),
    Case("unknown edition links to /v/", "/v/nope/page.html", 404, marker='href="/v/"'),
    Case("unknown edition without slash", "/v/nope", 404, marker=PLATFORM_404),
    # -- the pages keeper generates ---------------------------------------------
    Case(
        "the editions dashboard",
        "/v/",
        200,
        headers={**GENERATED_HTML, "X-Robots-Tag": None},
        marker=EDITIONS_PAGE,
    ),
    Case(
        "the version switcher's file",
        "/v/switcher.json",
        200,
        headers={**GENERATED_JSON, "X-Robots-Tag": None},
        marker='"url"',
    ),
    Case(
        "mike's versions file",
        "/v/versions.json",
        200,
        headers={**GENERATED_JSON, "X-Robots-Tag": None},
        marker='"aliases"',
    ),
    Case(
        "the builds dashboard, not indexed",
        "/builds/",
        200,
        headers={**GENERATED_HTML, "X-Robots-Tag": NOINDEX},
        marker=BUILDS_PAGE,
    ),
    Case(
        "/v leads to the editions dashboard",
        "/v",
        301,
        headers={"Location": "/v/", "Surrogate-Key": "docs/demo"},
    ),
    Case(
        "/builds leads to the builds dashboard, keeping the query",
        "/builds?x=1",
        301,
        headers={"Location": "/builds/?x=1", "Surrogate-Key": "docs/demo"},
    ),
    Case(
        "a generated page gives 304 to If-None-Match",
        "/v/",
        304,
        conditional=True,
        headers={"Cache-Control": REVALIDATE, "Surrogate-Key": "docs/demo"},
        body=b"",
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "HEAD of a generated page",
        "/v/",
        200,
        method="HEAD",
        headers={**GENERATED_HTML, "Content-Length": "re:^[1-9][0-9]*$"},
        body=b"",
    ),
    Case(
        "another product's dashboard",
        "/v/",
        200,
        host=PLAIN_HOST,
        headers={"Surrogate-Key": "docs/plain"},
        marker=EDITIONS_PAGE,
        forbidden="Demo",  # the other product's title
    ),
    # -- the 404 chain -------------------------------------------------------------
    Case(
        "missing page: the build's own 404.html",
        "/missing.html",
        404,
        headers={"Content-Type": HTML, "Cache-Control": REVALIDATE},
        marker="MAIN not-found page",
    ),
    Case(
        "missing page in a draft: the default edition's 404.html",
        "/v/draft/missing.html",
        404,
        headers={"X-Robots-Tag": NOINDEX},
        marker="MAIN not-found page",
    ),
    Case(
        "missing page, no 404.html anywhere: the platform's",
        "/missing.html",
        404,
        host=PLAIN_HOST,
        marker=PLATFORM_404,
    ),
    Case("missing directory", "/nope/", 404, marker="MAIN not-found page"),
    # -- builds by id ----------------------------------------------------------------
    Case(
        "a build by id is immutable and not indexed",
        "/builds/{old}/",
        200,
        headers={
            "Cache-Control": IMMUTABLE,
            "X-Robots-Tag": NOINDEX,
            "Surrogate-Key": "re:^docs/demo docs/demo/builds/{old}$",
            "Set-Cookie": None,
        },
        marker="OLD index",
    ),
    Case(
        "a build's asset by id",
        "/builds/{old}/_static/app.js",
        200,
        headers={"Cache-Control": IMMUTABLE},
        marker="build OLD",
    ),
    Case(
        "build without slash",
        "/builds/{old}",
        301,
        headers={"Location": "/builds/{old}/"},
    ),
    Case(
        "missing page in a build by id",
        "/builds/{old}/missing.html",
        404,
        headers={"Cache-Control": REVALIDATE, "X-Robots-Tag": NOINDEX},
        marker="MAIN not-found page",
    ),
    Case("unknown build", "/builds/zzzzzzzz/", 404, marker=PLATFORM_404),
    Case(
        "another product's build",
        "/builds/{plain}/secret.html",
        404,
        forbidden="SECRET",
    ),
    # -- redirect rules ---------------------------------------------------
    Case(
        "product rule",
        "/start",
        302,
        headers={"Location": "/guide/"},
    ),
    Case(
        "_redirects rule at the root",
        "/old.html",
        301,
        headers={"Location": "/page.html"},
    ),
    Case(
        "_redirects rule under an edition",
        "/v/__main/old.html",
        301,
        headers={"Location": "/v/__main/page.html"},
    ),
    Case(
        "_redirects rule under a build id",
        "/builds/{main}/old.html",
        301,
        headers={"Location": "/builds/{main}/page.html"},
    ),
    Case(
        "_redirects splat",
        "/moved/a/b.html",
        302,
        headers={"Location": "/guide/a/b.html"},
    ),
    Case(
        "_redirects splat keeps the query",
        "/moved/x.html?q=1",
        302,
        headers={"Location": "/guide/x.html?q=1"},
    ),
    Case(
        "_redirects to another site",
        "/ext",
        302,
        headers={"Location": "https://example.org/x"},
    ),
    Case("rules of one build only", "/v/draft/old.html", 404),
    # -- skew protection: a page's assets come from the page's build -------------
    Case(
        "a pinned asset comes from the pinned build",
        "/_static/app.js",
        200,
        request_headers={"Cookie": "ltd-pin=__main~{old}"},
        headers={"Cache-Control": REVALIDATE, "Set-Cookie": None},
        marker="build OLD",
    ),
    Case(
        "pages ignore the pin",
        "/index.html",
        200,
        request_headers={"Cookie": "ltd-pin=__main~{old}"},
        headers={"Set-Cookie": "re:^ltd-pin=__main~{main}; Path=/;"},
        marker="MAIN index",
    ),
    Case(
        "a pin for another edition is ignored",
        "/_static/app.js",
        200,
        request_headers={"Cookie": "ltd-pin=draft~{old}"},
        marker="build MAIN",
    ),
    Case(
        "a pin to an unknown build is ignored",
        "/_static/app.js",
        200,
        request_headers={"Cookie": "ltd-pin=__main~zzzzzzzz"},
        marker="build MAIN",
    ),
    Case(
        "a pin to another product's build is ignored",
        "/_static/app.js",
        200,
        request_headers={"Cookie": "ltd-pin=__main~{plain}"},
        marker="build MAIN",
        forbidden="SECRET",
    ),
    Case(
        "an asset the pinned build lacks comes from the current one",
        "/_static/style.css",
        200,
        request_headers={"Cookie": "ltd-pin=__main~{old}"},
        marker="MAIN style",
    ),
    Case(
        "the edition's own pin wins among several",
        "/v/draft/_static/app.js",
        200,
        request_headers={
            "Cookie": "other=1; ltd-pin=draft~{old}; ltd-pin=__main~{main}"
        },
        marker="build OLD",
    ),
    # -- paths that must never leave the build ---------------------------------
    Case(
        "dot-dot", "/v/draft/../../builds/{plain}/secret.html", 400, forbidden="SECRET"
    ),
    Case(
        "encoded dot-dot",
        "/%2e%2e/plain/builds/{plain}/secret.html",
        400,
        forbidden="SECRET",
    ),
    Case(
        "mixed dot-dot",
        "/v/draft/.%2E/.%2e/builds/{plain}/secret.html",
        400,
        forbidden="SECRET",
    ),
    Case(
        "encoded slashes",
        "/v/draft/..%2f..%2fbuilds%2f{plain}%2fsecret.html",
        400,
        forbidden="SECRET",
    ),
    Case("double slash", "//builds/{plain}/secret.html", 400, forbidden="SECRET"),
    Case("inner double slash", "/guide//index.html", 400),
    Case("backslash", "/guide\\..\\..\\secret.html", 400, forbidden="SECRET"),
    Case("encoded backslash", "/guide%5c..%5csecret.html", 400, forbidden="SECRET"),
    Case("NUL", "/index.html%00.js", 400),
    Case("single dot segment", "/./index.html", 400),
    # == hostile requests ===================================================
    # -- Host: case, port and trailing dot are the same host ------------------
    Case("Host in upper case", "/", 200, host=HOST.upper(), marker="MAIN index"),
    Case(
        "Host in mixed case with a port",
        "/",
        200,
        host="Demo.Docs.Test:8080",
        marker="MAIN index",
    ),
    Case("Host with a trailing dot", "/", 200, host=HOST + ".", marker="MAIN index"),
    Case("Host with an empty port", "/", 200, host=HOST + ":", marker="MAIN index"),
    # -- Host: no site, or not a host name at all (RFC 9112 §3.2: 400) --------
    # An unknown host is no site's: 404. (The built-in edge hands it to the
    # API, keeper's own host, which has no /page.html either.)
    Case("an unknown Host", "/page.html", 404, host="elsewhere.test", forbidden="MAIN"),
    Case("a Host sharing a suffix", "/page.html", 404, host="evil" + DOMAIN),
    Case("a Host ending like a product's", "/page.html", 404, host="x" + HOST),
    Case(
        "a product's Host in another domain",
        "/page.html",
        404,
        host=HOST + ".evil.test",
    ),
    Case("a Host below a product's", "/page.html", 404, host="evil." + HOST),
    Case("a Host with an underscore", "/page.html", 404, host="demo_x." + DOMAIN),
    Case("Host with two trailing dots", "/", 400, host=HOST + "..", forbidden="MAIN"),
    Case("Host with a port that is no number", "/", 400, host=HOST + ":80x"),
    Case("a Host of 5 KB", "/", 400, host="a." * 2500 + HOST, forbidden="MAIN"),
    Case("a Host label over 63 bytes", "/", 400, host="a" * 64 + "." + DOMAIN),
    Case(
        "a Host of 16 KB",
        "/",
        400,
        host="a" * 16 * 1024,
        left_to_fastly=FASTLY_HTTP,
    ),
    Case("a Host with a space", "/", 400, host="demo docs.test", forbidden="MAIN"),
    Case("a Host with userinfo", "/", 400, host="x@" + HOST, forbidden="MAIN"),
    Case("a percent-encoded Host", "/", 400, host="demo%2Edocs.test"),
    Case("a Host with an encoded NUL", "/", 400, host=HOST + "%00"),
    Case(
        "a Host with a raw control character",
        "/",
        400,
        host=HOST + "\x01",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "a Host with a raw NUL",
        "/",
        400,
        host=HOST + "\x00",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case("a Host with a raw byte past ASCII", "/", 400, host="d\xe9mo." + DOMAIN),
    Case("an empty Host", "/", 400, host="", forbidden="MAIN"),
    Case(
        "no Host on HTTP/1.1",
        "/",
        400,
        host=None,
        forbidden="MAIN",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "no Host on HTTP/1.0 is no site",
        "/page.html",
        404,
        host=None,
        http_version="HTTP/1.0",
        forbidden="MAIN",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "two Host headers",
        "/",
        400,
        extra_headers=(("Host", PLAIN_HOST),),
        forbidden="index",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "the same Host twice",
        "/",
        400,
        extra_headers=(("Host", HOST),),
        forbidden="index",
        left_to_fastly=FASTLY_HTTP,
    ),
    # -- absolute-form targets: the target's host wins (RFC 9112 §3.2.2) ------
    Case(
        "an absolute target naming another site than Host",
        f"http://{HOST}/page.html",
        200,
        host=PLAIN_HOST,
        marker="MAIN page",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "an absolute target over https",
        f"https://{HOST}/page.html",
        200,
        host=PLAIN_HOST,
        marker="MAIN page",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "an absolute target without a path",
        f"http://{HOST}",
        200,
        host=PLAIN_HOST,
        marker="MAIN index",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "an absolute target naming no site",
        "http://elsewhere.test/page.html",
        404,
        forbidden="MAIN",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "an absolute target with userinfo",
        f"http://x@{HOST}/page.html",
        400,
        host=PLAIN_HOST,
        forbidden="MAIN",
        left_to_fastly=FASTLY_HTTP,
    ),
    # -- request targets that are not paths, or too long ----------------------
    Case("an asterisk target", "*", 400, method="OPTIONS"),
    Case("CONNECT to an authority", f"{HOST}:443", 400, method="CONNECT"),
    Case(
        "a target at the limit",
        "/page.html?" + "q" * (MAX_EDGE_TARGET_BYTES - len("/page.html?")),
        200,
        marker="MAIN page",
    ),
    Case(
        "a target one byte over the limit",
        "/page.html?" + "q" * (MAX_EDGE_TARGET_BYTES - len("/page.html")),
        414,
        forbidden="MAIN",
    ),
    Case("a path of 8 KB", "/" + "a" * (8 * 1024), 414, forbidden="MAIN"),
    Case(
        "a path of 64 KB",
        TARGET_64K,
        414,
        per_edge={"builtin": 400, "varnish": CLOSED},
        why="uvicorn's URL parser (httptools) holds less than 64 KiB and "
        "refuses the request itself; varnishd reads at most http_req_size "
        "(32 KiB) of a request and closes the connection",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case(
        "a query of 64 KB",
        "/page.html?" + "q" * (64 * 1024),
        414,
        per_edge={"builtin": 400, "varnish": CLOSED},
        why="as for a path of 64 KB",
        left_to_fastly=FASTLY_HTTP,
    ),
    Case("a segment of 300 bytes", "/" + "b" * 300 + ".html", 404, marker=MAIN_404),
    Case("a segment of 2 KB", "/" + "b" * 2048 + ".html", 404, marker=MAIN_404),
    Case("1500 segments", "/x" * 1500 + "/", 404, marker=MAIN_404),
    Case(
        "a long path under an edition",
        "/v/draft/" + "%41/" * 1000 + "x.css",
        404,
        marker=MAIN_404,
    ),
    Case(
        "a long splat keeps its encoding",
        "/moved/" + "%41" * 1300 + "?q=%22",
        302,
        headers={"Location": "/guide/" + "%41" * 1300 + "?q=%22"},
    ),
    Case(
        "a long query on a redirect is kept as sent",
        "/guide?" + 'a="<>{}|^`&' * 300,
        301,
        headers={"Location": "/guide/?" + 'a="<>{}|^`&' * 300},
    ),
    # -- paths: ; parameters, fragments ----------------------------------------
    Case("a ; parameter is part of the name", "/index.html;x", 404, marker=MAIN_404),
    Case("a ; before an asset's extension", "/page.html;.css", 404, marker=MAIN_404),
    Case("a ; in a folder", "/guide;x/", 404, marker=MAIN_404),
    Case("an encoded ;", "/page.html%3Bx", 404, marker=MAIN_404),
    Case("a ; after /v", "/v;/draft/", 404, marker=MAIN_404, forbidden="DRAFT"),
    Case(
        "a ; after /builds",
        "/builds;x/{plain}/secret.html",
        404,
        marker=MAIN_404,
        forbidden="SECRET",
    ),
    Case("a ; in an edition's name", "/v/draft;x/", 404, marker=PLATFORM_404),
    Case("a raw fragment is dropped", "/page.html#frag", 200, marker="MAIN page"),
    Case(
        "a raw fragment on a directory",
        "/guide#frag",
        301,
        headers={"Location": "/guide/"},
    ),
    Case(
        "a raw fragment after the query",
        "/guide?a=1#frag",
        301,
        headers={"Location": "/guide/?a=1"},
    ),
    Case(
        "a raw fragment hiding a traversal",
        "/page.html#/../../builds/{plain}/secret.html",
        200,
        marker="MAIN page",
        forbidden="SECRET",
    ),
    # -- encodings --------------------------------------------------------------
    Case(
        "overlong UTF-8 dots",
        "/v/draft/%c0%ae%c0%ae/%c0%ae%c0%ae/builds/{plain}/secret.html",
        400,
        forbidden="SECRET",
    ),
    Case(
        "an overlong UTF-8 slash",
        "/v/draft/..%c0%af..%c0%afbuilds%c0%af{plain}%c0%afsecret.html",
        400,
        forbidden="SECRET",
    ),
    Case("three-byte overlong dots", "/%e0%80%ae%e0%80%ae/secret.html", 400),
    Case("a % without hex digits", "/page%zz.html", 400),
    Case("a lone %", "/page%.html", 400),
    Case("a truncated %", "/page.html%2", 400),
    Case("an encoded byte that is not UTF-8", "/%ff.html", 400),
    Case("an encoded control character", "/page%01.html", 400),
    Case("an encoded DEL", "/page%7f.html", 400),
    Case(
        "fullwidth dots and solidus are names",
        "/v/draft/%ef%bc%8e%ef%bc%8e%ef%bc%8f%ef%bc%8e%ef%bc%8e%ef%bc%8f"
        "builds%ef%bc%8f{plain}%ef%bc%8fsecret.html",
        404,
        marker=MAIN_404,
        forbidden="SECRET",
    ),
    Case(
        "double-encoded dot-dot is a name",
        "/v/draft/%252e%252e/%252e%252e/builds/{plain}/secret.html",
        404,
        marker=MAIN_404,
        forbidden="SECRET",
    ),
    Case("raw UTF-8 in the path", "/caf\xc3\xa9.html", 400, forbidden="café"),
    Case("raw UTF-8 in the query", "/guide?q=caf\xc3\xa9", 400),
    Case("a raw space in the path", "/a b.html", 400, forbidden="MAIN space"),
    # -- Unicode normalisation: names are compared byte for byte -------------
    Case("an NFC name asked in NFC", "/caf%C3%A9.html", 200, marker="MAIN café NFC"),
    Case(
        "an NFC name asked in NFD",
        "/cafe%CC%81.html",
        404,
        marker=MAIN_404,
        forbidden="café NFC",
    ),
    Case("an NFD name asked in NFD", "/nai%CC%88ve.html", 200, marker="MAIN naïve NFD"),
    Case(
        "an NFD name asked in NFC",
        "/na%C3%AFve.html",
        404,
        marker=MAIN_404,
        forbidden="naïve NFD",
    ),
    # -- methods and bodies ------------------------------------------------------
    Case(
        "POST with a body of 8 MB",
        "/",
        405,
        method="POST",
        request_body=BIG_BODY,
        forbidden="MAIN",
        per_edge=_BEFORE_CONFIG,
        why="nginx weighs a body against client_max_body_size when it picks "
        "the location, before the location's 405 can run; a larger limit "
        "would only have it read and discard more",
    ),
    Case(
        "PUT with a body of 8 MB",
        "/page.html",
        405,
        method="PUT",
        request_body=BIG_BODY,
        forbidden="MAIN",
        per_edge=_BEFORE_CONFIG,
        why="as for POST",
    ),
    Case(
        "POST with a chunked body",
        "/",
        405,
        method="POST",
        request_headers={"Transfer-Encoding": "chunked"},
        request_body=CHUNKED_BODY,
        headers={"Allow": "GET, HEAD"},
    ),
    Case(
        "an unknown method",
        "/",
        405,
        method="FROB",
        forbidden="MAIN",
        per_edge={"builtin": 400},
        why="uvicorn's parser (llhttp) knows only registered methods and "
        "refuses others itself",
    ),
    Case(
        "a WebDAV method", "/", 405, method="PROPFIND", headers={"Allow": "GET, HEAD"}
    ),
    Case("DELETE", "/page.html", 405, method="DELETE", headers={"Allow": "GET, HEAD"}),
    Case("OPTIONS", "/", 405, method="OPTIONS", headers={"Allow": "GET, HEAD"}),
    Case(
        "TRACE echoes nothing",
        "/",
        405,
        method="TRACE",
        request_headers={"X-Secret": "hunter2", "Cookie": "session=hunter2"},
        forbidden="hunter2",
    ),
    # -- Range: one range at most, RFC 9110 §14 ------------------------------
    Case(
        "many overlapping ranges get the whole file",
        "/big.bin",
        200,
        request_headers={"Range": "bytes=" + ",".join(["0-0"] * 1000)},
        body=BIG,
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "two ranges get the whole file",
        "/big.bin",
        200,
        request_headers={"Range": "bytes=0-0,5-5"},
        body=BIG,
        left_to_fastly=FASTLY_CACHE,
    ),
    *(
        Case(
            f"an unsatisfiable range: {spec}",
            "/big.bin",
            416,
            request_headers={"Range": f"bytes={spec}"},
            headers={"Content-Range": f"bytes */{len(BIG)}"},
            forbidden="\x10\x11\x12",
            left_to_fastly=FASTLY_CACHE,
        )
        for spec in (
            "10-99999999999999999999999",
            "99999999999999999999999-",
            "-99999999999999999999999",
            "-5-10",
            "5--10",
            "--5",
            "abc",
            "9-3",
            "2000-",
        )
    ),
    Case(
        "a range up to 2**63 - 1",
        "/big.bin",
        206,
        request_headers={"Range": "bytes=10-9223372036854775807"},
        headers={"Content-Range": f"bytes 10-{len(BIG) - 1}/{len(BIG)}"},
        body=BIG[10:],
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "a range of another unit is ignored",
        "/big.bin",
        200,
        request_headers={"Range": "items=0-1"},
        body=BIG,
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "an empty range is ignored",
        "/big.bin",
        200,
        request_headers={"Range": "bytes="},
        body=BIG,
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "spaces in a range",
        "/big.bin",
        206,
        request_headers={"Range": "bytes= 5-6"},
        body=BIG[5:7],
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "a range on a missing page",
        "/missing.html",
        404,
        request_headers={"Range": "bytes=0-3"},
        marker=MAIN_404,
        left_to_fastly=FASTLY_CACHE,
    ),
    # -- If-None-Match lists ------------------------------------------------------
    Case(
        "If-None-Match among 150 other ETags",
        "/page.html",
        304,
        conditional=True,
        other_etags=150,
        body=b"",
        per_edge={"nginx-s3": 200},
        why="nginx leaves revalidating a proxied answer to the origin (it has "
        "no cache of its own there), and S3 compares If-None-Match with one "
        "ETag, not a list: the page comes whole",
        left_to_fastly=FASTLY_CACHE,
    ),
    Case(
        "an If-None-Match of 16 KB",
        "/page.html",
        400,
        request_headers={
            "If-None-Match": ", ".join([f'"{i:032x}"' for i in range(450)])
        },
        forbidden="MAIN",
        left_to_fastly=FASTLY_HTTP,
    ),
    # -- Cookie: junk pins, others' builds ----------------------------------------
    Case(
        "300 junk pins",
        "/_static/app.js",
        200,
        request_headers={"Cookie": "; ".join(["ltd-pin=__main~zzzz"] * 300)},
        marker="build MAIN",
    ),
    Case(
        "malformed pins",
        "/_static/app.js",
        200,
        request_headers={
            "Cookie": "ltd-pin; ltd-pin=; ltd-pin=~; ltd-pin=__main~; "
            "ltd-pin=__main~ZZZZ; ltd-pin=__main~../../{plain}; "
            "ltd-pin=__main~{old}x; =; ;;; ltd-pin==__main~{old}; "
            "ltd-pin=__main ~{old}; ltd-pin=__main~{old}~{old}"
        },
        marker="build MAIN",
    ),
    Case(
        "a pin to another product's build, for an asset only it has",
        "/_static/secret.js",
        404,
        request_headers={"Cookie": "ltd-pin=__main~{plain}"},
        marker=MAIN_404,
        forbidden="SECRET",
    ),
    Case(
        "an edition's pin to another product's build",
        "/v/draft/_static/app.js",
        200,
        request_headers={"Cookie": "ltd-pin=draft~{plain}"},
        marker="build DRAFT",
        forbidden="SECRET",
    ),
    Case(
        "a Cookie of 16 KB",
        "/_static/app.js",
        400,
        request_headers={"Cookie": "; ".join(["ltd-pin=__main~zzzz"] * 800)},
        forbidden="build",
        left_to_fastly=FASTLY_HTTP,
    ),
]


def expected_answer(
    site: SiteView,
    files: Mapping[str, Mapping[str, bytes]],
    raw: str,
    cookie: str | None = None,
    pages: Mapping[str, bytes] | None = None,
) -> tuple[int, dict[str, str | None], bytes | None]:
    """What :func:`keeper.edge.rules.resolve` says ``GET raw`` must answer
    for ``site``, whose builds hold ``files`` (by build id, then path) and
    whose generated pages are ``pages`` (by name; one not there is the
    platform's 404).

    Returns the status, the headers (None: must be absent; ``Location`` as
    resolve gives it, decoded) and the body (the platform page's marker for
    the platform's page, None where nothing is promised).
    """
    path, _, query = raw.partition("#")[0].partition("?")
    decision = rules.resolve(
        site,
        path,
        query,
        has=lambda build, name: name in files.get(build, {}),
        cookie=cookie,
    )
    headers: dict[str, str | None] = {"X-Robots-Tag": None, "Set-Cookie": None}
    if isinstance(decision, rules.BadRequest):
        headers.update(rules.headers(site, rules.Scope(), decision.status))
        return decision.status, headers, None
    if isinstance(decision, rules.Redirect):
        headers.update(rules.headers(site, decision.scope, decision.status))
        headers["Location"] = decision.location
        return decision.status, headers, b""
    if isinstance(decision, rules.Generated):
        page = (pages or {}).get(decision.page)
        if page is None:  # not written (yet): the platform's page
            headers.update(rules.headers(site, decision.scope, 404))
            return 404, headers, PLATFORM_404.encode()
        headers.update(rules.headers(site, decision.scope, 200))
        headers["Content-Type"] = content_type_for(decision.page)
        return 200, headers, page
    if isinstance(decision, rules.PlatformNotFound):
        headers.update(rules.headers(site, decision.scope, 404))
        return 404, headers, PLATFORM_404.encode()
    headers.update(rules.headers(site, decision.scope, decision.status))
    if decision.pin and decision.scope.edition and decision.scope.pin_path:
        headers["Set-Cookie"] = rules.pin_cookie(
            decision.scope.edition, decision.build, decision.scope.pin_path
        )
    return decision.status, headers, files[decision.build][decision.path]


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def fill(text: str, ids: Mapping[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value)
    return text


#: Seconds a request may take before it counts as a hang.
TIMEOUT = 30


def send(
    address: tuple[str, int],
    method: str,
    path: str,
    host: str | None,
    headers: Mapping[str, str] | None = None,
    *,
    extra_headers: tuple[tuple[str, str], ...] = (),
    http_version: str = "HTTP/1.1",
    body: bytes | None = None,
) -> Answer:
    """One request with the raw ``path`` (and every header) exactly as
    given; raises :class:`ConnectionClosed` when the server closes the
    connection without answering."""
    lines = [f"{method} {path} {http_version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    fields = dict(headers or {})
    if body is not None and not any(
        name.lower() == "transfer-encoding" for name in fields
    ):
        fields["Content-Length"] = str(len(body))
    lines += [f"{name}: {value}" for name, value in fields.items()]
    lines += [f"{name}: {value}" for name, value in extra_headers]
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(address, timeout=TIMEOUT) as conn:
        conn.sendall(head)
        if body:
            # The edge may answer (and close) before it reads the body: send
            # it from a thread while this one reads the answer.
            writer = threading.Thread(target=_send_quietly, args=(conn, body))
            writer.start()
        try:
            response = http.client.HTTPResponse(conn, method=method)
            try:
                response.begin()
            except (http.client.RemoteDisconnected, ConnectionResetError) as exc:
                raise ConnectionClosed(str(exc)) from exc
            data = response.read()
            return Answer(response.status, response.msg, data)
        finally:
            if body:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                writer.join()


class ConnectionClosed(Exception):
    """The server closed the connection without an answer."""


def _send_quietly(conn: socket.socket, body: bytes) -> None:
    # The edge may stop reading: it answered already, or will not.
    with contextlib.suppress(OSError):
        conn.sendall(body)


def run_case(
    case: Case, address: tuple[str, int], ids: Mapping[str, str], *, edge: str
) -> list[str]:
    """Send ``case`` to ``edge`` (one of :data:`EDGES`, with ``-<store>``
    after it for an edge whose answers depend on its store) at ``address``;
    returns what was wrong."""
    path = fill(case.path, ids)
    request = {k: fill(v, ids) for k, v in case.request_headers.items()}

    def exchange() -> Answer:
        return send(
            address,
            case.method,
            path,
            case.host,
            request,
            extra_headers=case.extra_headers,
            http_version=case.http_version,
            body=case.request_body,
        )

    expected = case.expected_status(edge)
    try:
        if case.conditional:
            first = exchange()
            etag = first.headers.get("ETag")
            if not etag:
                return [f"{first.status} answer to the first request has no ETag"]
            others = [f'"{n:032x}"' for n in range(case.other_etags)]
            request["If-None-Match"] = ", ".join([*others, etag])
        answer = exchange()
    except ConnectionClosed as exc:
        if expected == CLOSED:
            return []
        return [f"the connection closed without an answer ({exc}), expected {expected}"]
    if expected != case.status:
        # An edge answering before keeper's configuration runs: its own page.
        problems = (
            []
            if answer.status == expected
            else [
                f"status {answer.status}, expected {expected} from {edge} ({case.why})"
            ]
        )
        if case.forbidden is not None and case.forbidden.encode() in answer.body:
            problems.append(f"body contains {case.forbidden!r}")
        return problems
    return answer_problems(case, answer, ids)


def answer_problems(case: Case, answer: Answer, ids: Mapping[str, str]) -> list[str]:
    """What ``answer`` has that ``case`` does not allow."""
    problems = []
    if answer.status != case.status:
        problems.append(f"status {answer.status}, expected {case.status}")
    if answer.status >= 500:
        problems.append("a 5xx")
    for name, expected in case.headers.items():
        problem = _check_header(
            answer, name, None if expected is None else fill(expected, ids)
        )
        if problem:
            problems.append(problem)
    text = answer.body.decode("utf-8", "replace")
    if case.marker is not None and fill(case.marker, ids) not in text:
        problems.append(f"body lacks {case.marker!r}: {text[:200]!r}")
    if case.forbidden is not None and case.forbidden in text:
        problems.append(f"body contains {case.forbidden!r}")
    if case.body is not None and answer.body != case.body:
        problems.append(f"body {answer.body[:80]!r}, expected {case.body[:80]!r}")
    return problems


def _check_header(answer: Answer, name: str, expected: Expect) -> str | None:
    values = answer.headers.get_all(name) or []
    if expected is None:
        return f"{name}: {values!r}, expected none" if values else None
    if not values:
        return f"no {name} header, expected {expected!r}"
    value = values[0]
    if expected.startswith("re:"):
        ok = re.search(expected[3:], value) is not None
    elif expected.startswith("has:"):
        ok = expected[4:] in re.split(r"[ ,]+", value)
    else:
        ok = value == expected
    return None if ok else f"{name}: {value!r}, expected {expected!r}"


def assert_generated_pages_under_the_root(
    get: Callable[[str], Answer], root: str = "/demo", key: str = "paths/demo"
) -> None:
    """A path-layout product's generated pages and the redirects to them,
    asked for with ``get(path)``, all under the product's ``root``."""
    problems = []
    for path, status, expected, marker in (
        (
            "/v/",
            200,
            {"Content-Type": GENERATED_HTML["Content-Type"], "X-Robots-Tag": None},
            EDITIONS_PAGE,
        ),
        ("/v/switcher.json", 200, {"Content-Type": "application/json"}, '"url"'),
        ("/v/versions.json", 200, {"Content-Type": "application/json"}, '"aliases"'),
        ("/builds/", 200, {"X-Robots-Tag": NOINDEX}, BUILDS_PAGE),
        ("/v", 301, {"Location": f"{root}/v/"}, None),
        ("/builds?x=1", 301, {"Location": f"{root}/builds/?x=1"}, None),
    ):
        answer = get(root + path)
        if answer.status != status:
            problems.append(f"{path}: status {answer.status}, expected {status}")
        for name, value in {
            **expected,
            "Surrogate-Key": key,
            "Cache-Control": REVALIDATE,
            "Set-Cookie": None,
        }.items():
            problem = _check_header(answer, name, value)
            if problem:
                problems.append(f"{path}: {problem}")
        if marker is not None and marker.encode() not in answer.body:
            problems.append(f"{path}: body lacks {marker!r}")
    assert not problems, "\n".join(problems)


#: Requests that would write, if an edge wrote: to a build's files, by every
#: route and with every method readers have no business using.
WRITES = [
    (method, path)
    for method in ("PUT", "POST", "DELETE", "PATCH", "MOVE", "COPY", "MKCOL")
    for path in (
        "/page.html",
        "/new.html",
        "/v/draft/index.html",
        "/builds/{main}/page.html",
        "/builds/{plain}/secret.html",
        "/v/",
        "/%2e%2e/x.html",
    )
]


def assert_writes_change_nothing(
    address: tuple[str, int], store: ObjectStore, ids: Mapping[str, str]
) -> None:
    """:data:`WRITES`, each with a body, leave every build in ``store`` (the
    org's) as it was, and are refused with a 4xx."""

    def builds() -> set[tuple[str, int, str | None]]:
        return {
            (o.key, o.size, o.etag)
            for o in store.list()
            if "/builds/" in o.key  # generated pages may be rewritten meanwhile
        }

    before = builds()
    problems = []
    for method, path in WRITES:
        try:
            answer = send(
                address,
                method,
                fill(path, ids),
                HOST,
                {"Content-Type": "text/html"},
                body=b"<h1>WRITTEN</h1>",
            )
        except ConnectionClosed as exc:
            problems.append(f"{method} {path}: closed ({exc})")
            continue
        if not 400 <= answer.status < 500:
            problems.append(f"{method} {path}: {answer.status}")
    assert not problems, problems
    assert builds() == before
    page = send(address, "GET", "/page.html", HOST)
    assert b"MAIN page" in page.body and b"WRITTEN" not in page.body
