"""The edge contract against a real varnishd on the rendered VCL, over both
origins Varnish can read: keeper's origin route (filesystem store) and S3."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import Session, select

from keeper.db import Organization
from keeper.db.engine import make_engine
from keeper.domain.limits import MAX_EDGE_TARGET_BYTES
from keeper.edge.origin import Origin
from keeper.edge.redirects import Rule
from keeper.edge.render import RenderContext, varnish
from keeper.edge.site import BuildView, EditionView, SiteView, load_org_sites
from keeper.services.edge_origin import ORIGIN_PATH, SECRET_HEADER, origin_secret
from keeper.services.upload_urls import UploadSigner
from tests.edge.cases import (
    CASES,
    HOST,
    PLATFORM_404,
    Answer,
    Case,
    assert_generated_pages_under_the_root,
    assert_writes_change_nothing,
    expected_answer,
    fill,
    run_case,
    send,
)
from tests.edge.demo import (
    BIG,
    DRAFT,
    MAIN,
    OLD,
    ORG,
    PLAIN,
    Demo,
    Files,
    demo_keeper,
    store_env,
)
from tests.edge.varnish import varnish_edge
from tests.servers import find_executable, skip_or_fail


@dataclass(frozen=True)
class Edge:
    store: str
    demo: Demo
    address: tuple[str, int]
    workdir: Path


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def edge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Edge]:
    """The demo org published once per store, behind one varnishd."""
    workdir = tmp_path_factory.mktemp(f"varnish-{request.param}")
    env = store_env(request, request.param, anonymous_reads=True)
    with (
        demo_keeper(workdir / "keeper", env) as demo,
        varnish_edge(demo, workdir / "edge") as address,
    ):
        yield Edge(request.param, demo, address, workdir)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(edge: Edge, case: Case) -> None:
    """Each case twice: the second answer comes from Varnish's cache and
    must be the same (no cookie or header of one answer kept for another)."""
    first = run_case(case, edge.address, edge.demo.ids, edge=f"varnish-{edge.store}")
    again = run_case(case, edge.address, edge.demo.ids, edge=f"varnish-{edge.store}")
    assert not first and not again, {"first": first, "cached": again}


def get(edge: Edge, path: str, **headers: str) -> httpx.Response:
    host, port = edge.address
    return httpx.get(
        f"http://{host}:{port}{path}", headers={"Host": HOST, **headers}, timeout=10
    )


def test_cached_files_take_the_headers_of_each_request(edge: Edge) -> None:
    """One cached object answers a page of ``__main``, the same page by
    edition name and by build id, and a pinned asset request, each with
    its own headers."""
    ids = edge.demo.ids
    for _ in range(2):
        page = get(edge, "/page.html")
        by_name = get(edge, "/v/__main/page.html")
        by_id = get(edge, f"/builds/{ids['main']}/page.html")
        assert page.text == by_name.text == by_id.text
        assert page.headers["Set-Cookie"].startswith(f"ltd-pin=__main~{ids['main']};")
        assert by_name.headers["Set-Cookie"].endswith("Path=/v/__main/; SameSite=Lax")
        assert "Set-Cookie" not in by_id.headers
        assert page.headers["Cache-Control"] == "no-cache"
        assert by_id.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert by_id.headers["X-Robots-Tag"] == "noindex"
        assert "X-Robots-Tag" not in page.headers
        pinned = get(edge, "/_static/app.js", Cookie=f"ltd-pin=__main~{ids['old']}")
        current = get(edge, "/_static/app.js")
        assert "build OLD" in pinned.text and "build MAIN" in current.text
        assert "Set-Cookie" not in pinned.headers
        assert pinned.headers["Surrogate-Key"].endswith(
            f"docs/demo/builds/{ids['old']}"
        )
        for answer in (page, by_name, by_id, pinned, current):
            assert "X-Ltd-Missing" not in answer.headers
            assert not any(name.lower().startswith("x-amz") for name in answer.headers)


def test_a_404_page_takes_no_range_and_no_304(edge: Edge) -> None:
    whole = get(edge, "/missing.html")
    assert whole.status_code == 404 and "MAIN not-found page" in whole.text
    ranged = get(edge, "/missing.html", Range="bytes=0-3")
    assert ranged.status_code == 404 and ranged.text == whole.text
    etag = get(edge, "/404.html").headers["ETag"]
    conditional = get(edge, "/missing.html", **{"If-None-Match": etag})
    assert conditional.status_code == 404 and conditional.text == whole.text


def test_a_range_on_a_cold_object(edge: Edge) -> None:
    """HEAD, Range and If-None-Match need the whole object, which varnishd
    fetches before it answers even the first request for it."""
    ids = edge.demo.ids
    path = f"/builds/{ids['main']}/big.bin"
    ranged = get(edge, path, Range="bytes=1000-")
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 1000-1023/{len(BIG)}"
    assert ranged.content == BIG[1000:]
    assert ranged.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_publish_reaches_the_running_varnishd(edge: Edge) -> None:
    """Re-pointing an edition rewrites the VCL and loads it into varnishd:
    no restart, no purge, visible within about two seconds."""
    demo = edge.demo
    assert "DRAFT index" in get(edge, "/v/draft/").text
    demo.point("draft", demo.ids["old"])
    try:
        answer = _wait_for(edge, "/v/draft/", "OLD index", within=2.0)
        assert answer.headers["Set-Cookie"].startswith(
            f"ltd-pin=draft~{demo.ids['old']};"
        )
        assert f"docs/demo/builds/{demo.ids['old']}" in answer.headers["Surrogate-Key"]
    finally:
        demo.point("draft", demo.ids["draft"])
    _wait_for(edge, "/v/draft/", "DRAFT index", within=5.0)
    # Each publish loaded a new VCL and discarded the ones before it.
    listing = subprocess.run(
        ["varnishadm", "-n", str(edge.workdir / "edge" / "varnishd"), "vcl.list"],
        capture_output=True,
        text=True,
        check=True,
    )
    # (A discarded one lingers until the last request using it is done.)
    kept = [
        line
        for line in listing.stdout.splitlines()
        if line.strip() and not line.startswith("discarded")
    ]
    assert len(kept) == 1 and kept[0].startswith("active"), listing.stdout


def test_generated_pages_are_never_cached(edge: Edge) -> None:
    """Keeper rewrites a generated page in place and bans nothing: the next
    request shows the new bytes, and a page not written (yet) is the
    platform's 404 page, not a cached old one."""
    store = edge.demo.store()
    key = "demo/_meta/v/versions.json"
    written = store.get(key)
    assert get(edge, "/v/versions.json").content == written
    try:
        store.put(key, b'[{"version": "new"}]\n', content_type="application/json")
        assert get(edge, "/v/versions.json").content == b'[{"version": "new"}]\n'
        store.delete(key)
        gone = get(edge, "/v/versions.json")
        assert gone.status_code == 404 and PLATFORM_404 in gone.text
        assert gone.headers["Surrogate-Key"] == "docs/demo"
        assert gone.headers["Cache-Control"] == "no-cache"
    finally:
        store.put(key, written, content_type="application/json")
    assert get(edge, "/v/versions.json").content == written


def _wait_for(edge: Edge, path: str, marker: str, *, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        answer = get(edge, path)
        if marker in answer.text:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"{path} still shows {answer.text[:80]!r} after {within}s")
        time.sleep(0.05)


# -- beyond the table: every answer is what rules.resolve decides ------------

#: Raw paths (with queries) and Cookie headers whose every combination is
#: checked against the reference, on both products' hosts.
PROBES = [
    "/",
    "/?a=1",
    "/index.html",
    "/page.html",
    "/page.HTML",
    "/a%20b.html",
    "/%61%20b.html",
    "/guide",
    "/guide?x=1&y",
    "/guide/",
    "/guide/index.html",
    "/nope",
    "/nope/",
    "/nope.js",
    "/_static/app.js",
    "/_static/style.css",
    "/_static/",
    "/_static",
    "/data.json",
    "/img.svg",
    "/404.html",
    "/_redirects",
    "/old.html",
    "/old.html?q=1",
    "/moved",
    "/moved/",
    "/moved/a/b?c=d",
    "/moved/%e2%82%ac%20x.html",
    "/ext?x=1",
    "/start",
    "/start?q=1",
    "/v",
    "/v?x=1",
    "/v/",
    "/%76/",
    "/V/",
    "/v/switcher.json",
    "/v/versions.json?x",
    "/v/index.html",
    "/v/__main",
    "/v/__main/",
    "/v/__main/old.html",
    "/v/__main/_static/app.js",
    "/v/draft",
    "/v/draft/?x",
    "/v/draft/_static/app.js",
    "/v/draft/old.html",
    "/v/draft/guide",
    "/v/draft/missing.css",
    "/v/nope",
    "/v/nope/x",
    "/v/%64raft/",
    "/builds",
    "/builds?a=b",
    "/builds/",
    "/builds/{old}",
    "/builds/{old}?x=1",
    "/builds/{old}/",
    "/builds/{old}/_static/app.js",
    "/builds/{old}/missing.html",
    "/builds/{main}/old.html",
    "/builds/{main}/guide",
    "/builds/{draft}/x",
    "/builds/{plain}/secret.html",
    "/builds/{plain}/",
    "/builds/zzz/",
    "/x%zz",
    "/%ff",
    "/%e2%82%ac",
    "/a%2fb",
    "/./x",
    "/%2e/x",
    "/x/..",
    "/x\\y",
    "/x%00",
    "/x%7f",
    "/%25",
    "/~user/",
    "/a;b.css",
    "/guide??x",
]
COOKIES = [
    None,
    "ltd-pin=__main~{old}",
    "ltd-pin=draft~{old}",
    "a=1; ltd-pin=__main~zzzz; ltd-pin=__main~{old}",
    "ltd-pin=__main~{main}; ltd-pin=__main~{old}",
    "ltd-pin=__main~{plain}; ltd-pin=__main~{draft}",
    " ltd-pin=__main~{old} ;x=2",
    "ltd-pin=__main~{old}x; ltd-pin=draft~{main}",
]


def _reference(demo: Demo) -> tuple[list[SiteView], dict[str, Files]]:
    """The org's sites as keeper sees them now, and each build's files."""
    engine = make_engine(f"sqlite:///{demo.keeper.workdir / 'keeper.sqlite3'}")
    try:
        with Session(engine) as session:
            org = session.exec(
                select(Organization).where(Organization.slug == ORG)
            ).one()
            sites = load_org_sites(session, org)
    finally:
        engine.dispose()
    contents = {"old": OLD, "main": MAIN, "draft": DRAFT, "plain": PLAIN}
    return sites, {demo.ids[name]: files for name, files in contents.items()}


def test_every_answer_is_what_rules_resolve_decides(edge: Edge) -> None:
    """Many more requests than the table, each checked against the
    reference resolver on the org as keeper holds it now."""
    sites, files = _reference(edge.demo)
    ids = edge.demo.ids
    problems = []
    for site in sites:
        pages = edge.demo.pages(site)
        for raw in (fill(p, ids) for p in PROBES):
            for cookie in (None if c is None else fill(c, ids) for c in COOKIES):
                answer = send(
                    edge.address,
                    "GET",
                    raw,
                    site.host,
                    {"Cookie": cookie} if cookie else {},
                )
                expected = expected_answer(site, files, raw, cookie, pages)
                wrong = _differences(answer, *expected)
                problems += [f"{site.host}{raw} (Cookie: {cookie}): {w}" for w in wrong]
    assert not problems, "\n".join(problems[:40])


def test_the_largest_requests_fit_the_workspace(edge: Edge) -> None:
    """The VCL copies the path, its pieces and the Location into varnishd's
    workspace (64 KiB by default), which the request itself shares: with
    targets of MAX_EDGE_TARGET_BYTES in a request of nearly http_req_size
    (32 KiB, the most varnishd reads), every answer is still the reference's,
    never a 503 or 500 for want of room."""
    sites, files = _reference(edge.demo)
    site = next(s for s in sites if s.host == HOST)
    pages = edge.demo.pages(site)
    ids = edge.demo.ids
    limit = MAX_EDGE_TARGET_BYTES
    targets = [
        "/moved/" + "%41" * ((limit - 7) // 3),
        "/moved/" + "%41" * ((limit - 13) // 3) + "?query",
        "/moved/" + "%41" * 1200 + "?" + "q" * (limit - 3608),
        "/moved/" + "%41" * 600 + "?" + "q" * (limit - 1808),
        "/moved/" + "%22%3C%3E%7B" * 100 + "?" + '"<>{}|^`&' * 200,
        "/guide?" + "q" * (limit - 7),
        "/v/draft?" + "q" * (limit - 9),
        "/_static/app.js?" + "q" * (limit - 16),
        "/v/draft/" + "%C3%A9/" * 580 + "x.css",
        "/" + "%C3%A9" * 680,
        "/" + "%C3%A9" * 383 + "/x?" + "q" * 1790,
        f"/builds/{ids['main']}/" + "%41/" * 1010,
        "/v/?" + "q" * (limit - 4),
    ]
    cookie = "; ".join(
        [f"ltd-pin=__main~{ids['old']}", f"ltd-pin=draft~{ids['old']}"]
        + ["ltd-pin=draft~zzzz"] * 300
    )
    problems = []
    for target in targets:
        assert len(target) <= limit
        # Filler header fields up to just below http_req_size.
        room = 32_600 - len(target) - len(cookie)
        filler = {f"X-Filler-{n}": "f" * min(7000, room - n * 7000) for n in range(5)}
        filler = {name: value for name, value in filler.items() if value}
        answer = send(edge.address, "GET", target, HOST, {"Cookie": cookie, **filler})
        status, headers, _ = expected_answer(site, files, target, cookie, pages)
        if answer.status != status:
            problems.append(f"{target[:40]}…: {answer.status}, not {status}")
        elif answer.headers.get("Location") != headers.get("Location"):
            problems.append(f"{target[:40]}…: another Location")
    assert not problems, problems


def _differences(
    answer: Answer, status: int, headers: dict[str, str | None], body: bytes | None
) -> list[str]:
    found = []
    if answer.status != status:
        found.append(f"status {answer.status}, not {status}")
    for name, value in headers.items():
        if answer.headers.get(name) != value:
            found.append(f"{name} {answer.headers.get(name)!r}, not {value!r}")
    if body == PLATFORM_404.encode():
        if body not in answer.body:
            found.append("not the platform page")
    elif body is not None and answer.body != body:
        found.append(f"body {answer.body[:60]!r}, not {body[:60]!r}")
    return found


# -- keeper's origin route (what varnishd reads a filesystem store through) ----


def _secret(demo: Demo, org: str = ORG) -> str:
    key = (demo.keeper.workdir / "keeper-data" / "secret-key").read_bytes().strip()
    return origin_secret(UploadSigner(key), org)


# varnishd reads S3 itself; the route is for filesystem stores.
@pytest.mark.parametrize("edge", ["filesystem"], indirect=True)
def test_the_origin_route_serves_build_files_to_the_edge_only(edge: Edge) -> None:
    demo = edge.demo
    client = demo.keeper.client
    ids = demo.ids
    url = f"{ORIGIN_PATH}/{ORG}/demo/builds/{ids['main']}/index.html"
    secret = {SECRET_HEADER: _secret(demo)}

    assert client.get(url).status_code == 403
    assert client.get(url, headers={SECRET_HEADER: "guess"}).status_code == 403
    # One org's secret opens no other org's objects.
    other = {SECRET_HEADER: _secret(demo, "other")}
    assert client.get(url, headers=other).status_code == 403

    answer = client.get(url, headers=secret)
    assert answer.status_code == 200
    assert "MAIN index" in answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["ETag"].startswith('"')
    head = client.head(url, headers=secret)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == answer.headers["Content-Length"]
    big = f"{ORIGIN_PATH}/{ORG}/demo/builds/{ids['main']}/big.bin"
    ranged = client.get(big, headers={**secret, "Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == BIG[10:20]
    cached = client.get(
        url, headers={**secret, "If-None-Match": answer.headers["ETag"]}
    )
    assert cached.status_code == 304

    outside = [
        "demo/_meta/versions.json",
        "demo/_meta/v",
        "demo/_meta/v/",
        "demo/_meta/../builds/{main}/index.html",
        "nope/_meta/v/index.html",
        f"demo/builds/{ids['main']}",
        f"demo/builds/{ids['main']}/",
        f"demo/builds/{ids['main']}/missing.html",
        f"demo/builds/{ids['plain']}/secret.html",
        f"demo/builds/{ids['main']}/../{ids['old']}/index.html",
        f"demo/builds/{ids['main']}/%2e%2e/{ids['old']}/index.html",
        f"demo/releases/{ids['main']}/index.html",
        f"plain/builds/{ids['main']}/index.html",
        "../secret-key",
    ]
    keeper = urlsplit(demo.keeper.url)
    address = (keeper.hostname or "", keeper.port or 80)
    for key in outside:
        # Sent byte for byte: httpx would resolve the dot segments itself.
        path = f"{ORIGIN_PATH}/{ORG}/{fill(key, ids)}"
        status = send(address, "GET", path, keeper.netloc, secret).status
        assert status == 404, key
    assert (
        client.get(
            f"{ORIGIN_PATH}/nope/demo/builds/{ids['main']}/index.html",
            headers={SECRET_HEADER: _secret(demo, "nope")},
        ).status_code
        == 404
    )


# (Over S3 varnishd reads the pages from the bucket.)
@pytest.mark.parametrize("edge", ["filesystem"], indirect=True)
def test_the_origin_route_serves_generated_pages_to_the_edge_only(
    edge: Edge,
) -> None:
    demo = edge.demo
    client = demo.keeper.client
    url = f"{ORIGIN_PATH}/{ORG}/demo/_meta/v/index.html"
    secret = {SECRET_HEADER: _secret(demo)}
    assert client.get(url).status_code == 403
    assert (
        client.get(url, headers={SECRET_HEADER: _secret(demo, "other")}).status_code
        == 403
    )

    page = demo.store().get("demo/_meta/v/index.html")
    answer = client.get(url, headers=secret)
    assert answer.status_code == 200 and answer.content == page
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    etag = answer.headers["ETag"]
    head = client.head(url, headers=secret)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(page))
    assert head.headers["ETag"] == etag
    ranged = client.get(url, headers={**secret, "Range": "bytes=0-14"})
    assert ranged.status_code == 206 and ranged.content == page[:15]
    cached = client.get(url, headers={**secret, "If-None-Match": etag})
    assert cached.status_code == 304
    switcher = client.get(
        f"{ORIGIN_PATH}/{ORG}/plain/_meta/v/switcher.json", headers=secret
    )
    assert switcher.status_code == 200
    assert switcher.headers["Content-Type"] == "application/json"
    assert isinstance(switcher.json(), list)


def test_writes_change_no_build(edge: Edge) -> None:
    assert_writes_change_nothing(edge.address, edge.demo.store(), edge.demo.ids)


def test_unknown_hosts_and_methods(edge: Edge) -> None:
    unknown = send(edge.address, "GET", "/", "elsewhere.test")
    assert unknown.status == 404 and b"no site here" in unknown.body
    post = send(edge.address, "POST", "/", HOST)
    assert post.status == 405
    assert post.headers["Allow"] == "GET, HEAD"


def test_path_layout(tmp_path: Path) -> None:
    """An org moved to the path layout after the render: the next VCL
    serves its products under ``/<product>`` on the base domain."""
    with (
        demo_keeper(tmp_path / "keeper") as demo,
        varnish_edge(demo, tmp_path / "edge") as address,
    ):
        response = demo.keeper.client.patch(
            f"/api/orgs/{ORG}", headers=demo.keeper.auth(), json={"url_layout": "path"}
        )
        assert response.status_code == 200, response.text

        def at(path: str, host: str = "docs.test") -> httpx.Response:
            return httpx.get(
                f"http://{address[0]}:{address[1]}{path}",
                headers={"Host": host},
                timeout=10,
            )

        deadline = time.monotonic() + 5
        while at("/demo/").status_code != 200:
            assert time.monotonic() < deadline, "varnishd kept the subdomain layout"
            time.sleep(0.05)
        index = at("/demo/")
        assert "MAIN index" in index.text
        assert index.headers["Set-Cookie"].endswith("Path=/demo/; SameSite=Lax")
        assert at("/demo?x=1").headers["Location"] == "/demo/?x=1"
        assert at("/demo/guide").headers["Location"] == "/demo/guide/"
        assert at("/demo/v/draft").headers["Location"] == "/demo/v/draft/"
        draft = at("/demo/v/draft/")
        assert "DRAFT index" in draft.text
        assert draft.headers["Set-Cookie"].endswith("Path=/demo/v/draft/; SameSite=Lax")
        assert at("/demo/start").headers["Location"] == "/demo/guide/"
        assert at("/demo/old.html").headers["Location"] == "/demo/page.html"
        assert at("/demo/v/__main/old.html").headers["Location"] == (
            "/demo/v/__main/page.html"
        )
        missing = at("/demo/missing.html")
        assert missing.status_code == 404 and "MAIN not-found page" in missing.text
        platform = at("/plain/missing.html")
        assert platform.status_code == 404 and 'href="/plain/v/"' in platform.text
        assert send(address, "GET", "/demo/./index.html", "docs.test").status == 400
        assert_generated_pages_under_the_root(
            lambda path: send(address, "GET", path, "docs.test"), key="docs/demo"
        )
        assert at("/demox/").status_code == 404
        assert at("/", host="demo.docs.test").status_code == 404


# -- the rendered files themselves ------------------------------------------


def test_every_bookkeeping_header_is_cleared() -> None:
    """A client's own X-Ltd-* headers must never steer the VCL: every one it
    uses is in the list removed before resolving (and before fetching)."""
    templates = Path(varnish.__file__).parent.parent / "templates" / "varnish"
    used = set()
    for template in templates.glob("*.j2"):
        used |= set(
            re.findall(r"req\.http\.X-Ltd-([A-Za-z0-9]+)", template.read_text())
        )
    assert used <= set(varnish.INTERNAL_HEADERS)


def test_unusual_names_and_rules_compile(tmp_path: Path) -> None:
    """Quotes, braces and regex characters in what the VCL quotes."""
    binary = find_executable("varnishd")
    if binary is None:
        skip_or_fail("varnishd is not installed (apt-get install varnish)")
    rules_ = (
        Rule("/a+b/(x)/*", "/c.d/:splat?x=:splat", 307),
        Rule("/q", "https://example.org/a,b;c", 302),
        Rule('/"}', "/x", 301),
    )
    view = SiteView(
        org="o-1",
        product="p-1",
        host="docs.example.org",
        root="/p-1",
        editions={
            "__main": EditionView("__main", "b1"),
            "v1.2_rc-1": EditionView("v1.2_rc-1", "b2", noindex=True),
            "empty": EditionView("empty", None),
        },
        builds={"b1": BuildView("b1", rules_), "b2": BuildView("b2")},
        redirects=rules_,
    )
    ctx = RenderContext(
        org="o-1",
        sites=[view, replace(view, product="p-2", root="/p-2", builds={})],
        pages={"b1": frozenset({"404.html", "a/"})},
        origin=Origin(
            kind="s3", endpoint="http://127.0.0.1:9", bucket="b", prefix="x/"
        ),
        listen_host="127.0.0.1",
        listen_port=6081,
        out_dir=tmp_path,
        platform_pages={"p-1": 'page with "} and {" and \n lines', "p-2": ""},
    )
    for name, text in varnish.TARGET.render(ctx).items():
        (tmp_path / name).write_text(text)
    command = [binary, "-C", "-f", str(tmp_path / "default.vcl"), "-n", str(tmp_path)]
    if os.geteuid() == 0:
        command += ["-j", "none"]  # see varnish_edge
    compiled = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr[-3000:]
