"""The edge contract as one table: every edge must give these answers.

Each case is a request (method, raw path, headers) and what must come back
(status, headers, a marker in the body). ``{main}``, ``{old}``, ``{draft}``
and ``{plain}`` in paths, headers and expectations stand for the demo
org's build ids (see ``tests/edge/demo.py``). :func:`run_case` sends the
raw path byte for byte, so the traversal cases reach the edge unnormalised.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from conveyor.content_types import content_type_for
from keeper.edge import rules
from keeper.edge.site import SiteView
from tests.edge.demo import BIG, HOST, MAIN, PLAIN_HOST

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


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    status: int
    method: str = "GET"
    host: str = HOST
    request_headers: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, Expect] = field(default_factory=dict)
    #: Text the body must contain.
    marker: str | None = None
    #: Text the body must not contain.
    forbidden: str | None = None
    #: The exact body.
    body: bytes | None = None
    #: Send first without, then with ``If-None-Match`` from the answer.
    conditional: bool = False


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
    Case("If-None-Match gives 304", "/page.html", 304, conditional=True, body=b""),
    Case(
        "a byte range",
        "/big.bin",
        206,
        request_headers={"Range": "bytes=10-19"},
        headers={"Content-Range": f"bytes 10-19/{len(BIG)}"},
        body=BIG[10:20],
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
    path, _, query = raw.partition("?")
    decision = rules.resolve(
        site,
        path,
        query,
        has=lambda build, name: name in files.get(build, {}),
        cookie=cookie,
    )
    headers: dict[str, str | None] = {"X-Robots-Tag": None, "Set-Cookie": None}
    if isinstance(decision, rules.BadRequest):
        headers.update(rules.headers(site, rules.Scope(), 400))
        return 400, headers, None
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


def send(
    address: tuple[str, int],
    method: str,
    path: str,
    host: str,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request with the raw ``path`` exactly as given."""
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return Answer(response.status, response.msg, response.read())
    finally:
        conn.close()


def run_case(case: Case, address: tuple[str, int], ids: Mapping[str, str]) -> list[str]:
    """Send ``case`` to the edge at ``address``; returns what was wrong."""
    path = fill(case.path, ids)
    request = {k: fill(v, ids) for k, v in case.request_headers.items()}
    if case.conditional:
        first = send(address, case.method, path, case.host, request)
        etag = first.headers.get("ETag")
        if not etag:
            return [f"{first.status} answer to the first request has no ETag"]
        request["If-None-Match"] = etag
    answer = send(address, case.method, path, case.host, request)
    problems = []
    if answer.status != case.status:
        problems.append(f"status {answer.status}, expected {case.status}")
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
