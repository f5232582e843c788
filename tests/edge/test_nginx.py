"""nginx on the configuration `keeper edge render --target nginx` writes:
the conformance table over the filesystem store and over S3 (moto's
server), nginx against :func:`keeper.edge.rules.resolve` on many more
requests (the demo org, and a site of odd names built by hand), a publish
reaching the running nginx, the path layout, the command's errors and
reloads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlmodel import Session, select

from keeper.db import Organization
from keeper.db.engine import make_engine
from keeper.domain.content_types import content_type_for
from keeper.edge.configs import write_files
from keeper.edge.origin import Origin
from keeper.edge.pages import platform_not_found
from keeper.edge.redirects import make_rule
from keeper.edge.render import RenderContext
from keeper.edge.render.nginx import TARGET, NginxError, running_pid
from keeper.edge.site import BuildView, EditionView, SiteView, load_org_sites
from tests.edge.cases import (
    CASES,
    PLATFORM_404,
    Case,
    assert_generated_pages_under_the_root,
    assert_writes_change_nothing,
    expected_answer,
    fill,
    run_case,
    send,
)
from tests.edge.demo import (
    DRAFT,
    HOST,
    MAIN,
    OLD,
    ORG,
    PLAIN,
    Demo,
    demo_keeper,
    page,
    populate_path_layout,
    store_env,
)
from tests.edge.nginx import nginx_edge, running_nginx
from tests.served import served_keeper
from tests.servers import S3Endpoint, free_port


@dataclass
class Edge:
    demo: Demo
    address: tuple[str, int]
    #: The folder the configuration is rendered into.
    out: Path
    #: ``filesystem`` or ``s3``.
    store: str = "filesystem"


@pytest.fixture(
    scope="module",
    params=["filesystem", pytest.param("s3", marks=pytest.mark.s3server)],
)
def edge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Edge]:
    """The demo org, published once per store, behind nginx."""
    env = store_env(request, request.param, anonymous_reads=True)
    workdir = tmp_path_factory.mktemp(f"nginx-{request.param}")
    with demo_keeper(workdir, env) as demo, nginx_edge(demo, workdir) as address:
        yield Edge(demo, address, workdir / "nginx", request.param)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_conformance(edge: Edge, case: Case) -> None:
    problems = run_case(case, edge.address, edge.demo.ids, edge=f"nginx-{edge.store}")
    assert not problems, "\n".join(problems)


# -- nginx against rules.resolve ------------------------------------------------

PATHS = [
    "/",
    "/index.html",
    "/INDEX.HTML",
    "/page.html?a=1",
    "/guide",
    "/GUIDE",
    "/guide/index.html",
    "/_static",
    "/_static/",
    "/start",
    "/start?x=1&y",
    "/start/",
    "/old.html?q=2",
    "/moved",
    "/moved/",
    "/moved/a%20b/c.html?x",
    "/moved/%41.css",
    "/ext?x=1",
    "/v",
    "/v?x=1",
    "/v/",
    "/v/?x=1",
    "/%76/",
    "/V/",
    "/v/switcher.json",
    "/v/versions.json",
    "/v/versions.json/",
    "/v/index.html",
    "/v/draft",
    "/v/draft?x=1",
    "/v/Draft/",
    "/v/draft/old.html",
    "/v/draft/missing.css",
    "/v/__main/guide?z",
    "/v/__main/moved/x",
    "/v/nope",
    "/v/nope/x.css",
    "/builds",
    "/builds?x",
    "/builds/",
    "/builds/index.html",
    "/builds/{old}",
    "/builds/{old}?q",
    "/builds/{OLD}/",
    "/builds/{main}/guide",
    "/builds/{main}/old.html?a=b",
    "/builds/{draft}/_static/app.js",
    "/builds/{plain}/",
    "/builds/zz/x",
    "/a%20b.html",
    "/caf%C3%A9.html",
    "/%ff.html",
    "/404.html",
    "/v/draft/404.html",
    "/data.json",
    "/_static/app.js",
    "/_static/style.css",
    "/v/draft/_static/app.js",
    "/v/__main/_static/app.js",
    "/builds/{main}/_static/app.js",
]
COOKIES = [
    "ltd-pin=__main~{old}",
    "ltd-pin=draft~{old}",
    "ltd-pin=draft~{main}; ltd-pin=__main~{old}",
    " ltd-pin=__main~{old} ; x=1",
    "ltd-pin=__main~{main}; ltd-pin=__main~{old}",
    "ltd-pin=__main~zz; ltd-pin=__main~{old}",
    "ltd-pin=__main~{plain}; ltd-pin=__main~{old}",
    "xltd-pin=__main~{old}",
    "ltd-pin=__main~{old}x",
    "ltd-pin=__MAIN~{old}",
]
PINNED_PATHS = [p for p in PATHS if "_static" in p or p.endswith((".css", ".html"))]


Contents = dict[str, dict[str, bytes]]


def _sites(demo: Demo) -> dict[str, SiteView]:
    """The demo org's sites by host, as keeper's database says now."""
    engine = make_engine(f"sqlite:///{demo.keeper.workdir / 'keeper.sqlite3'}")
    try:
        with Session(engine) as session:
            org = session.exec(
                select(Organization).where(Organization.slug == ORG)
            ).one()
            return {site.host: site for site in load_org_sites(session, org)}
    finally:
        engine.dispose()


def _differences(
    address: tuple[str, int],
    site: SiteView,
    contents: Contents,
    path: str,
    cookie: str | None = None,
    pages: dict[str, bytes] | None = None,
) -> list[str]:
    """What nginx's answer to ``GET path`` has that rules.resolve's lacks.

    ``contents`` are the files of every build, by build id and path;
    ``pages`` the site's generated pages, by name.
    """
    status, expected, body = expected_answer(site, contents, path, cookie, pages)
    answer = send(address, "GET", path, site.host, {"Cookie": cookie} if cookie else {})
    problems = []
    if answer.status != status:
        problems.append(f"status {answer.status}, expected {status}")
    location = expected.pop("Location", None)
    got_location = answer.headers.get("Location")
    if location is not None and got_location != location:
        problems.append(f"Location {got_location!r}, expected {location!r}")
    if status != 400:  # nginx's 400s for bad paths carry no edge headers
        for name, value in expected.items():
            got = answer.headers.get_all(name) or []
            if got != ([] if value is None else [value]):
                problems.append(f"{name}: {got}, expected {value!r}")
    if body == PLATFORM_404.encode():
        if body not in answer.body:
            problems.append("not the platform's page")
    elif body is not None and location is None and answer.body != body:
        # (nginx's redirects carry its own little page, which nobody promised)
        problems.append(f"body {answer.body[:60]!r}, expected {body[:60]!r}")
    return [f"{path} (Cookie: {cookie}): {p}" for p in problems]


def test_nginx_answers_as_rules_resolve(edge: Edge) -> None:
    demo = edge.demo
    site = _sites(demo)[HOST]
    contents = {
        demo.ids["old"]: OLD,
        demo.ids["main"]: MAIN,
        demo.ids["draft"]: DRAFT,
        demo.ids["plain"]: PLAIN,
    }
    ids = {**demo.ids, "OLD": demo.ids["old"].upper()}
    pages = demo.pages(site)
    problems = []
    for path in PATHS:
        problems += _differences(
            edge.address, site, contents, fill(path, ids), pages=pages
        )
    for cookie in COOKIES:
        for path in PINNED_PATHS:
            problems += _differences(
                edge.address, site, contents, fill(path, ids), fill(cookie, ids), pages
            )
    assert not problems, "\n".join(problems)


def test_writes_change_no_build(edge: Edge) -> None:
    assert_writes_change_nothing(edge.address, edge.demo.store(), edge.demo.ids)


def test_only_get_and_head(edge: Edge) -> None:
    answer = send(edge.address, "POST", "/", HOST)
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, HEAD"


def test_unknown_hosts_get_no_site(edge: Edge) -> None:
    answer = send(edge.address, "GET", "/", "elsewhere.test")
    assert answer.status == 404
    assert answer.body == b"no site here\n"


# -- publishing ------------------------------------------------------------------


def _wait_for(edge: Edge, path: str, marker: bytes, within: float) -> float:
    started = time.monotonic()
    while True:
        answer = send(edge.address, "GET", path, HOST)
        if marker in answer.body:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(
                f"{path} still answers {answer.status} {answer.body[:80]!r} "
                f"after {within}s"
            )
        time.sleep(0.02)


def test_a_publish_reaches_the_running_nginx(edge: Edge) -> None:
    demo = edge.demo
    assert b"DRAFT index" in send(edge.address, "GET", "/v/draft/", HOST).body
    try:
        demo.point("draft", demo.ids["old"])
        assert _wait_for(edge, "/v/draft/", b"OLD index", within=1.0) < 1.0
    finally:
        demo.point("draft", demo.ids["draft"])
    _wait_for(edge, "/v/draft/", b"DRAFT index", within=1.0)


# -- the path layout -----------------------------------------------------------------


@pytest.fixture(scope="module")
def path_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Org ``paths`` (``paths.test``, path layout) with product ``demo``:
    ``main`` on ``__main`` and ``x`` on edition ``x``, behind nginx."""
    workdir = tmp_path_factory.mktemp("nginx-path")
    with served_keeper(workdir) as keeper:
        populate_path_layout(keeper)
        demo = Demo(keeper=keeper, env={"KEEPER_BASE_URL": keeper.url})
        with nginx_edge(demo, workdir, org="paths") as address:
            yield address


def _path_case(address: tuple[str, int], path: str) -> tuple[int, str | None, bytes]:
    answer = send(address, "GET", path, "Paths.Test")
    return answer.status, answer.headers.get("Location"), answer.body


def test_path_layout_serves_under_the_product(path_edge: tuple[str, int]) -> None:
    status, _, body = _path_case(path_edge, "/demo/")
    assert status == 200 and b"PATH main" in body
    status, _, body = _path_case(path_edge, "/demo/v/x/")
    assert status == 200 and b"PATH x" in body


def test_path_layout_redirects_carry_the_root(path_edge: tuple[str, int]) -> None:
    assert _path_case(path_edge, "/demo")[:2] == (301, "/demo/")
    assert _path_case(path_edge, "/demo?a=1")[:2] == (301, "/demo/?a=1")
    assert _path_case(path_edge, "/demo/v/x")[:2] == (301, "/demo/v/x/")
    assert _path_case(path_edge, "/demo/guide")[:2] == (301, "/demo/guide/")
    assert _path_case(path_edge, "/demo/start")[:2] == (302, "/demo/guide/")
    assert _path_case(path_edge, "/demo/old.html")[:2] == (301, "/demo/index.html")
    assert _path_case(path_edge, "/demo/v/__main/old.html")[:2] == (
        301,
        "/demo/v/__main/index.html",
    )


def test_path_layout_generated_pages(path_edge: tuple[str, int]) -> None:
    assert_generated_pages_under_the_root(
        lambda path: send(path_edge, "GET", path, "paths.test")
    )


def test_path_layout_pins_and_pages(path_edge: tuple[str, int]) -> None:
    answer = send(path_edge, "GET", "/demo/v/x/", "paths.test")
    assert answer.headers["Set-Cookie"].startswith("ltd-pin=x~")
    assert "; Path=/demo/v/x/;" in answer.headers["Set-Cookie"]
    status, _, body = _path_case(path_edge, "/demo/v/nope/")
    assert status == 404 and b'href="/demo/v/"' in body


def test_path_layout_other_paths_are_no_site(path_edge: tuple[str, int]) -> None:
    assert _path_case(path_edge, "/")[0] == 404
    assert _path_case(path_edge, "/demox/")[0] == 404
    assert _path_case(path_edge, "/api")[0] == 404


# -- the command and activate ----------------------------------------------------------

#: The command is the same for every store: ask it on the filesystem one.
one_store = pytest.mark.parametrize("edge", ["filesystem"], indirect=True)


@one_store
def test_render_refuses_an_unknown_org(edge: Edge, tmp_path: Path) -> None:
    result = edge.demo.keeper_cli(
        *("edge", "render", "--target", "nginx", "--org", "nope"),
        *("--listen", "127.0.0.1:8080", "--out", str(tmp_path / "out")),
    )
    assert result.returncode != 0
    assert "nope" in result.stderr
    assert not (tmp_path / "out" / "nginx.conf").exists()


@one_store
@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:http"])
def test_render_refuses_a_bad_listen(edge: Edge, tmp_path: Path, listen: str) -> None:
    result = edge.demo.keeper_cli(
        *("edge", "render", "--target", "nginx", "--org", ORG),
        *("--listen", listen, "--out", str(tmp_path / "out")),
    )
    assert result.returncode != 0
    assert f"--listen takes HOST:PORT, not {listen!r}" in result.stderr


@one_store
def test_render_refuses_an_unknown_option(edge: Edge, tmp_path: Path) -> None:
    result = edge.demo.keeper_cli(
        *("edge", "render", "--target", "nginx", "--org", ORG),
        *("--listen", "127.0.0.1:8080", "--out", str(tmp_path / "out")),
        *("--option", "colour=blue"),
    )
    assert result.returncode != 0
    assert "unknown nginx option colour" in result.stderr


@one_store
def test_rendering_again_prints_how_to_start(edge: Edge) -> None:
    host, port = edge.address
    result = edge.demo.keeper_cli(
        *("edge", "render", "--target", "nginx", "--org", ORG),
        *("--listen", f"{host}:{port}", "--out", str(edge.out)),
    )
    assert result.returncode == 0, result.stderr
    assert f"-c {edge.out / 'nginx.conf'}" in result.stdout
    assert (edge.out / "platform" / "demo.html").is_file()
    assert running_pid(edge.out) is not None


@one_store
def test_recorded_edges_are_listed_and_can_be_forgotten(
    edge: Edge, tmp_path: Path
) -> None:
    spare = tmp_path / "spare"
    rendered = edge.demo.keeper_cli(
        *("edge", "render", "--target", "nginx", "--org", ORG),
        *("--listen", "127.0.0.1:8081", "--out", str(spare)),
    )
    assert rendered.returncode == 0, rendered.stderr
    listed = edge.demo.keeper_cli("edge", "list", "--org", ORG)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert f"{ORG}\tnginx\t127.0.0.1:8081\t{spare.resolve()}\tok" in lines
    assert any(str(edge.out.resolve()) in line for line in lines)

    forgot = edge.demo.keeper_cli(
        *("edge", "forget", "--target", "nginx", "--org", ORG, "--out", str(spare))
    )
    assert forgot.returncode == 0, forgot.stderr
    assert str(spare.resolve()) not in edge.demo.keeper_cli("edge", "list").stdout
    # Publishes no longer touch it; forgetting it twice says so.
    conf, live = (
        (spare / "sites.conf").read_text(),
        (edge.out / "sites.conf").read_text(),
    )
    edge.demo.point("draft", edge.demo.ids["old"])
    try:
        assert (spare / "sites.conf").read_text() == conf
        assert (edge.out / "sites.conf").read_text() != live  # still recorded
    finally:
        edge.demo.point("draft", edge.demo.ids["draft"])
    again = edge.demo.keeper_cli(
        *("edge", "forget", "--target", "nginx", "--org", ORG, "--out", str(spare))
    )
    assert again.returncode == 1
    assert "no nginx edge of 'docs' was rendered into" in again.stderr


def _empty_org(out: Path, port: int = 8080) -> RenderContext:
    return RenderContext(
        org="none",
        sites=[],
        pages={},
        origin=Origin(kind="filesystem", root=out / "store"),
        listen_host="127.0.0.1",
        listen_port=port,
        out_dir=out / "nginx",
    )


def test_activate_without_a_running_nginx_does_nothing(tmp_path: Path) -> None:
    ctx = _empty_org(tmp_path)
    write_files(ctx.out_dir, TARGET.render(ctx))
    # Not even a check: an invalid configuration waits for whoever starts it.
    (ctx.out_dir / "sites.conf").write_text("map {\n")
    TARGET.activate(ctx, [])
    # A pid file left behind by a dead nginx is no running nginx either.
    (ctx.out_dir / "nginx.pid").write_text("999999999\n")
    assert running_pid(ctx.out_dir) is None
    TARGET.activate(ctx, [])


def test_activate_refuses_an_invalid_configuration(tmp_path: Path) -> None:
    port = free_port()
    ctx = _empty_org(tmp_path, port)
    write_files(ctx.out_dir, TARGET.render(ctx))
    with running_nginx(ctx.out_dir, port):
        assert running_pid(ctx.out_dir) is not None
        (ctx.out_dir / "sites.conf").write_text("map {\n")
        with pytest.raises(NginxError, match="nginx refused the configuration"):
            TARGET.activate(ctx, [])
        # The running nginx still answers, on the configuration it had.
        answer = send(("127.0.0.1", port), "GET", "/", HOST)
        assert answer.status == 404 and answer.body == b"no site here\n"


# -- odd names and editions, on a site built by hand --------------------------------

ODD_FILES: Contents = {
    "oddmain": {
        "index.html": page("ODD index"),
        "a b.html": page("ODD space"),
        "100%.html": page("ODD percent"),
        "c++.html": page("ODD plus"),
        "q?.html": page("ODD question"),
        "h#.html": page("ODD hash"),
        "café/index.html": page("ODD cafe"),
        "x.css": b"/* ODD main x */\n",
        "$dollar.js": b"/* ODD dollar */\n",
        "404.html": page("ODD not found"),
    },
    "oddupper": {
        "index.html": page("ODD Foo"),
        "x.css": b"/* ODD Foo x */\n",
        "y.css": b"/* ODD Foo y */\n",
    },
    "oddlower": {
        "index.html": page("ODD foo"),
        "x.css": b"/* ODD foo x */\n",
        "404.html": page("ODD foo not found"),
    },
}
ODD_PATHS = [
    "/",
    "/a%20b.html",
    "/100%25.html",
    "/c++.html",
    "/c%2B%2B.html",
    "/q%3F.html",
    "/h%23.html",
    "/caf%C3%A9",
    "/caf%C3%A9/?x=1",
    "/CAF%C3%A9",
    "/x.css",
    "/%24dollar.js",
    "/$dollar.js",
    "/r$",
    "/r%24?q",
    "/s/a%20b?x=1",
    "/s",
    "/t/1/2?k",
    "/t",
    "/deep/a/b/c/d",
    "/deep/a/b",
    "/deep/a/bc",
    "/d$/x%20y",
    "/dollar?z=1",
    "/sh/x",
    "/sh/y",
    "/ex/y?q=1",
    "/ex/z",
    "/ex",
    "/Case",
    "/case",
    "/CASE",
    "/v/Foo/",
    "/v/foo/",
    "/v/FOO/",
    "/v/Foo",
    "/v/Foo/x.css",
    "/v/Foo/missing",
    "/v/foo/missing",
    "/v/gone/",
    "/v/gone",
    "/builds/oddupper/",
    "/builds/ODDUPPER/",
    "/builds/oddlower/missing",
    "/missing",
    "/v/",
    "/v/?x=1",
    "/v/switcher.json",
    "/v/versions.json",
    "/builds/",
    "/v",
    "/builds?q",
]
ODD_PINS = [
    ("/v/Foo/x.css", "ltd-pin=Foo~oddmain"),
    ("/v/Foo/x.css", "ltd-pin=foo~oddmain"),
    ("/v/foo/x.css", "ltd-pin=Foo~oddmain; ltd-pin=foo~oddupper"),
    ("/x.css", "ltd-pin=__main~oddupper"),
    ("/x.css", "ltd-pin=__main~oddlower"),
    # Pins to no build of the product are passed over.
    ("/x.css", "ltd-pin=__main~zz; x=1; ltd-pin=__main~nope; ltd-pin=__main~oddlower"),
    # The pinned build has the file, but its own rule redirects it.
    ("/y.css", "ltd-pin=__main~oddupper"),
    ("/v/Foo/y.css", "ltd-pin=Foo~oddmain"),
]


def _odd_site() -> SiteView:
    """Editions told apart by case alone, a draft, one without a build,
    rules of every status with ``$`` and splats, files with names that need
    encoding."""
    return SiteView(
        org="odd",
        product="odd",
        host="odd.test",
        root="",
        editions={
            "__main": EditionView("__main", "oddmain"),
            "Foo": EditionView("Foo", "oddupper"),
            "foo": EditionView("foo", "oddlower", noindex=True),
            "gone": EditionView("gone", None),
        },
        builds={
            "oddmain": BuildView(
                "oddmain",
                (
                    make_rule("/r$", "/x.css"),
                    make_rule("/s/*", "https://example.org/:splat", 307),
                    make_rule("/t/*", "/u/:splat/v", 308),
                    make_rule("/deep/a/b/*", "/z/:splat"),
                    make_rule("/d$/*", "/e$/:splat", 303),
                    # First match wins, exact or splat.
                    make_rule("/sh/*", "/splat/:splat"),
                    make_rule("/sh/x", "/exact-shadowed"),
                    make_rule("/ex/y", "/exact"),
                    make_rule("/ex/*", "/splat/:splat"),
                    make_rule("/ex/y", "/exact-again"),
                    # Rules told apart by case alone.
                    make_rule("/Case", "/upper"),
                    make_rule("/case", "/lower", 302),
                ),
            ),
            "oddupper": BuildView("oddupper", (make_rule("/y.css", "/index.html"),)),
            "oddlower": BuildView("oddlower"),
        },
        redirects=(make_rule("/dollar", "/$x", 302),),
        builds_prefix="odd/builds/",
        meta_prefix="odd/_meta/",
    )


#: The odd site's generated pages: the builds page was never written.
ODD_PAGES = {"v/index.html": page("ODD editions"), "v/switcher.json": b"[]\n"}


def _odd_objects(site: SiteView) -> dict[str, bytes]:
    """The odd site's objects by key in the org's store."""
    objects = {
        f"{site.builds_prefix}{build}/{path}": data
        for build, files in ODD_FILES.items()
        for path, data in files.items()
    }
    objects.update({site.meta_prefix + name: data for name, data in ODD_PAGES.items()})
    return objects


def _write_odd_store(site: SiteView, root: Path) -> None:
    for key, data in _odd_objects(site).items():
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _pages(contents: Contents) -> dict[str, frozenset[str]]:
    """What :class:`keeper.edge.site.SpecialPages` finds in ``contents``."""
    return {
        build: frozenset(
            path.removesuffix("index.html")
            for path in files
            if path.endswith("/index.html") or path == "404.html"
        )
        for build, files in contents.items()
    }


@pytest.mark.parametrize(
    "store", ["filesystem", pytest.param("s3", marks=pytest.mark.s3server)]
)
def test_odd_names_answer_as_rules_resolve(
    request: pytest.FixtureRequest, tmp_path: Path, store: str
) -> None:
    site = _odd_site()
    if store == "s3":
        moto: S3Endpoint = request.getfixturevalue("moto_s3")
        bucket = moto.new_bucket()
        moto.allow_anonymous_reads(bucket)
        client = moto.client()
        for key, data in _odd_objects(site).items():
            client.put_object(
                Bucket=bucket,
                Key=f"sites/odd/{key}",
                Body=data,
                ContentType=content_type_for(key),
            )
        origin = Origin(
            kind="s3", endpoint=moto.endpoint_url, bucket=bucket, prefix="sites/odd/"
        )
    else:
        _write_odd_store(site, tmp_path / "store")
        origin = Origin(kind="filesystem", root=tmp_path / "store")
    port = free_port()
    ctx = RenderContext(
        org="odd",
        sites=[site],
        pages=_pages(ODD_FILES),
        origin=origin,
        listen_host="127.0.0.1",
        listen_port=port,
        out_dir=tmp_path / "nginx",
        platform_pages={"odd": platform_not_found(site)},
    )
    write_files(ctx.out_dir, TARGET.render(ctx))
    with running_nginx(ctx.out_dir, port):
        address = ("127.0.0.1", port)
        problems = []
        for path in ODD_PATHS:
            problems += _differences(address, site, ODD_FILES, path, pages=ODD_PAGES)
        for path, cookie in ODD_PINS:
            problems += _differences(address, site, ODD_FILES, path, cookie, ODD_PAGES)
    assert not problems, "\n".join(problems)


# -- the fast path ------------------------------------------------------------------

FAST_PATHS = [
    *ODD_PATHS,
    "/index.html",
    "/INDEX.HTML",
    "/index.htm",
    "/x.css?a=1",
    "/x.css?a=/../b",
    "/X.CSS",
    "/x.css/",
    "/.x.css",
    "/x.c-s",
    "/$dollar.js?x",
    "/c++.html?x#y",
    "/missing.css",
    "/v",
    "/v?x",
    "/builds",
    "/builds?x",
    "/vx",
    "/builds.css",
]
FAST_PINS = [
    *ODD_PINS,
    ("/index.html", "ltd-pin=__main~oddupper"),
    ("/c++.html", "ltd-pin=__main~oddlower"),
    ("/x.css", "xltd-pin=__main~oddlower"),
    ("/x.css", "ltd-pin=__main~oddmain"),
    ("/x.css", "a=1"),
]


def test_fast_path_answers_as_rules_resolve(tmp_path: Path) -> None:
    """A site without rules takes the fast path for its default edition's
    files: the same answers as rules.resolve, and, for requests beyond
    rules.resolve (HEAD, ranges, revalidation), the same as the general
    path gives for the same file asked for another way."""
    site = replace(
        _odd_site(),
        redirects=(),
        builds={build: BuildView(build) for build in _odd_site().builds},
    )
    _write_odd_store(site, tmp_path / "store")
    port = free_port()
    ctx = RenderContext(
        org="odd",
        sites=[site],
        pages=_pages(ODD_FILES),
        origin=Origin(kind="filesystem", root=tmp_path / "store"),
        listen_host="127.0.0.1",
        listen_port=port,
        out_dir=tmp_path / "nginx",
        platform_pages={"odd": platform_not_found(site)},
    )
    files = TARGET.render(ctx)
    assert '"odd.test" "/odd/builds/oddmain";' in files["sites.conf"]
    write_files(ctx.out_dir, files)
    with running_nginx(ctx.out_dir, port):
        address = ("127.0.0.1", port)
        problems = []
        for path in FAST_PATHS:
            problems += _differences(address, site, ODD_FILES, path, pages=ODD_PAGES)
        for path, cookie in FAST_PINS:
            problems += _differences(address, site, ODD_FILES, path, cookie, ODD_PAGES)
        # %2E is a dot the fast path leaves to the general one.
        for fast, general in (("/x.css", "/x%2Ecss"), ("/c++.html", "/c++%2Ehtml")):
            etag = send(address, "GET", fast, site.host).headers["ETag"]
            for method, headers in (
                ("GET", {}),
                ("HEAD", {}),
                ("GET", {"Range": "bytes=0-3"}),
                ("GET", {"Range": "bytes=9999-"}),
                ("GET", {"If-None-Match": etag}),
                ("GET", {"Cookie": "x=1"}),
            ):
                answers = [
                    send(address, method, path, site.host, headers)
                    for path in (fast, general)
                ]
                seen = [
                    (a.status, [h for h in a.headers.items() if h[0] != "Date"], a.body)
                    for a in answers
                ]
                if seen[0] != seen[1]:
                    problems.append(f"{method} {fast} {headers}: {seen}")
    assert not problems, "\n".join(problems)
