"""The built-in edge in process (TestClient): ranges, revalidation, methods,
Host dispatch, and how its caches follow the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from sqlmodel import col, create_engine

from keeper.app import create_app
from keeper.db import Build, Edition
from keeper.domain.limits import MAX_EDGE_HEADER_BYTES, MAX_EDGE_TARGET_BYTES
from keeper.edge.app import EdgeApp, _send_rest
from keeper.edge.cache import EdgeCache, FileMeta, ManifestCache
from keeper.edge.conditional import Unsatisfiable, byte_range, etag_matches
from keeper.services.stores import StoreProvider
from tests.conftest import BOOTSTRAP, make_settings
from tests.publishing import publish
from tests.settled import SettledClient

AUTH = {"Authorization": f"Bearer {BOOTSTRAP}"}
HOST = "demo.docs.test"
BASE = "/api/orgs/docs/products/demo"
#: Over three chunks of the store's 64 KiB, with no repeating pattern
#: that would hide an off-by-one.
BIG = bytes((i * 7 + i // 251) % 256 for i in range(200_000))
FILES = {
    "index.html": b"<h1>ONE index</h1>",
    "page.html": b"<h1>ONE page</h1>",
    "a b/index.html": b"<h1>ONE spaced</h1>",
    "big.bin": BIG,
    "404.html": b"<h1>ONE not found</h1>",
}


@dataclass
class Edge:
    client: TestClient
    storage: Path
    database: str
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def app_edge(self) -> EdgeApp:
        edge: EdgeApp = self.client.app.state.edge  # type: ignore[attr-defined]
        return edge

    def get(
        self, path: str, *, host: str = HOST, method: str = "GET", **headers: str
    ) -> httpx.Response:
        return self.client.request(
            method, path, headers={"Host": host, **headers}, follow_redirects=False
        )

    def publish(self, files: dict[str, bytes], git_ref: str = "main") -> str:
        build_id: str = publish(self.client, BASE, AUTH, files, git_ref)["id"]
        return build_id


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    database = f"sqlite:///{tmp_path / 'keeper.sqlite3'}"
    storage = tmp_path / "storage"
    settings = make_settings(database, f"file://{storage}", tmp_path)
    with SettledClient(create_app(settings)) as client:
        for url, body in (
            (
                "/api/orgs",
                {"slug": "docs", "title": "Docs", "base_domain": "docs.test"},
            ),
            ("/api/orgs/docs/products", {"slug": "demo", "title": "Demo"}),
        ):
            response = client.post(url, headers=AUTH, json=body)
            assert response.status_code == 201, response.text
        found = Edge(client, storage, database)
        found.ids["one"] = found.publish(FILES)
        found.ids["two"] = found.publish({"index.html": b"<h1>TWO index</h1>"}, "two")
        yield found


# -- ranges -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=100-", 100, len(BIG) - 1),
        ("bytes=-10", len(BIG) - 10, len(BIG) - 1),
        ("bytes=-999999", 0, len(BIG) - 1),
        ("bytes=5-999999", 5, len(BIG) - 1),
        ("bytes=60000-140000", 60000, 140000),
        ("Bytes= 7-7 ", 7, 7),
        ("bytes=0-9223372036854775807", 0, len(BIG) - 1),
    ],
)
def test_a_single_range_is_206(edge: Edge, header: str, first: int, last: int) -> None:
    response = edge.get("/big.bin", Range=header)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(BIG)}"
    assert response.headers["Content-Length"] == str(last - first + 1)
    assert response.content == BIG[first : last + 1]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=200000-",
        "bytes=300000-300010",
        "bytes=-0",
        # Malformed, or past any file: refused as nginx and Varnish refuse.
        "bytes=abc",
        "bytes=9-3",
        "bytes=-",
        "bytes=-5-10",
        "bytes=5--10",
        "bytes=5",
        "bytes=0-9223372036854775808",
        "bytes=-99999999999999999999",
    ],
)
def test_an_unsatisfiable_range_is_416(edge: Edge, header: str) -> None:
    response = edge.get("/big.bin", Range=header)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(BIG)}"
    assert response.content == b""


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",
        "bytes=" + ",".join(["0-0"] * 500),
        "items=0-1",
        "bytes=",
        "Bytes = 7-7",
    ],
)
def test_ranges_it_does_not_serve_get_the_whole_file(edge: Edge, header: str) -> None:
    response = edge.get("/big.bin", Range=header)
    assert response.status_code == 200
    assert response.content == BIG


def test_if_range_of_another_version_gets_the_whole_file(edge: Edge) -> None:
    etag = edge.get("/big.bin", method="HEAD").headers["ETag"]
    same = edge.get("/big.bin", Range="bytes=0-3", **{"If-Range": etag})
    assert same.status_code == 206 and same.content == BIG[:4]
    other = edge.get("/big.bin", Range="bytes=0-3", **{"If-Range": '"other"'})
    assert other.status_code == 200 and other.content == BIG


def test_a_big_file_streams_whole(edge: Edge) -> None:
    response = edge.get("/big.bin")
    assert response.status_code == 200
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(BIG))
    assert response.content == BIG


def test_head_of_a_range_has_its_headers_and_no_body(edge: Edge) -> None:
    response = edge.get("/big.bin", method="HEAD", Range="bytes=10-19")
    assert response.status_code == 206
    assert response.headers["Content-Length"] == "10"
    assert response.content == b""


# -- revalidation -------------------------------------------------------------


def test_if_none_match_gives_304_with_the_headers_and_no_body(edge: Edge) -> None:
    first = edge.get("/")
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"x", {etag}', "*"):
        response = edge.get("/", **{"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["ETag"] == etag
        for name in ("Cache-Control", "Surrogate-Key", "Set-Cookie"):
            assert response.headers[name] == first.headers[name]


def test_another_etag_gets_the_page(edge: Edge) -> None:
    response = edge.get("/", **{"If-None-Match": '"0123"'})
    assert response.status_code == 200 and b"ONE index" in response.content


def test_a_404_page_ignores_ranges_and_validators(edge: Edge) -> None:
    page = edge.get("/missing.html")
    assert page.status_code == 404 and b"ONE not found" in page.content
    assert "Accept-Ranges" not in page.headers
    again = edge.get(
        "/missing.html", Range="bytes=0-1", **{"If-None-Match": page.headers["ETag"]}
    )
    assert again.status_code == 404
    assert again.content == page.content


def test_head_of_the_platform_page_has_its_length(edge: Edge) -> None:
    page = edge.get("/v/nope/")
    head = edge.get("/v/nope/", method="HEAD")
    assert head.status_code == 404 and head.content == b""
    assert head.headers["Content-Length"] == str(len(page.content))


# -- methods, paths, hosts ----------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(edge: Edge, method: str) -> None:
    response = edge.get("/", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_a_path_that_is_not_utf8_is_400(edge: Edge) -> None:
    assert edge.get("/%ff.html").status_code == 400


def test_a_directory_redirect_location_is_encoded(edge: Edge) -> None:
    response = edge.get("/a%20b")
    assert response.status_code == 301
    assert response.headers["Location"] == "/a%20b/"


@pytest.mark.parametrize(
    "host", ["DEMO.Docs.TEST", "demo.docs.test:8080", "demo.docs.test."]
)
def test_host_ignores_case_port_and_trailing_dot(edge: Edge, host: str) -> None:
    response = edge.get("/", host=host)
    assert response.status_code == 200 and b"ONE index" in response.content


@pytest.mark.parametrize("host", ["testserver", "elsewhere.example", "nope.docs.test"])
def test_other_hosts_reach_the_api(edge: Edge, host: str) -> None:
    response = edge.get("/api", host=host)
    assert response.status_code == 200
    assert response.json()["name"] == "keeper"


@pytest.mark.parametrize("host", ["x@demo.docs.test", "demo.docs.test..", "a b"])
def test_a_host_that_is_no_host_name_is_400_for_the_api_too(
    edge: Edge, host: str
) -> None:
    for path in ("/", "/api"):
        response = edge.get(path, host=host)
        assert response.status_code == 400
        assert response.json()["detail"][0]["type"] == "bad_host"


def test_a_target_over_the_limit_is_414(edge: Edge) -> None:
    response = edge.get("/?" + "q" * MAX_EDGE_TARGET_BYTES)
    assert response.status_code == 414
    assert response.text.startswith("URI too long: ")
    assert b"ONE" not in response.content
    # The API's own paths are not the edge's to refuse.
    assert (
        edge.get("/api?" + "q" * MAX_EDGE_TARGET_BYTES, host="testserver").status_code
        == 200
    )


def test_header_fields_over_the_limits_are_400(edge: Edge) -> None:
    one = edge.get("/", **{"X-Big": "a" * MAX_EDGE_HEADER_BYTES})
    assert one.status_code == 400 and b"ONE" not in one.content
    several = {f"X-Part-{n}": "a" * 7000 for n in range(5)}
    assert edge.get("/", **several).status_code == 400
    assert edge.get("/", **{"X-Fine": "a" * 7000}).status_code == 200


def test_a_missing_object_is_503_not_a_crash(edge: Edge) -> None:
    served = edge.get("/page.html")
    digest = served.headers["ETag"].strip('"')  # the object's sha256
    (object_path,) = edge.storage.rglob(digest)
    object_path.unlink()
    assert edge.get("/page.html").status_code == 503


# -- caches follow the database -----------------------------------------------


def point(edge: Edge, edition: str, build: str) -> None:
    response = edge.client.patch(
        f"{BASE}/editions/{edition}", headers=AUTH, json={"build": build}
    )
    assert response.status_code == 200, response.text


def test_a_switch_in_this_process_is_served_at_once(edge: Edge) -> None:
    assert b"ONE index" in edge.get("/").content
    point(edge, "__main", edge.ids["two"])
    assert b"TWO index" in edge.get("/").content
    point(edge, "__main", edge.ids["one"])
    assert b"ONE index" in edge.get("/").content


def test_a_new_product_is_served_at_once(edge: Edge) -> None:
    assert edge.get("/api", host="fresh.docs.test").json()["name"] == "keeper"
    response = edge.client.post(
        "/api/orgs/docs/products", headers=AUTH, json={"slug": "fresh", "title": "F"}
    )
    assert response.status_code == 201, response.text
    publish(edge.client, "/api/orgs/docs/products/fresh", AUTH, {"index.html": b"NEW"})
    assert edge.get("/", host="fresh.docs.test").content == b"NEW"


def test_a_renamed_org_domain_moves_its_sites_at_once(edge: Edge) -> None:
    assert edge.get("/").status_code == 200
    response = edge.client.patch(
        "/api/orgs/docs", headers=AUTH, json={"base_domain": "docs.example"}
    )
    assert response.status_code == 200, response.text
    assert edge.get("/api").json()["name"] == "keeper"
    assert b"ONE index" in edge.get("/", host="demo.docs.example").content


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fresh_views_cost_no_queries(edge: Edge) -> None:
    clock = Clock()
    edge.app_edge.cache.clock = clock
    paths = ["/", "/page.html", "/missing.html", "/v/nope/", "/big.bin"]
    for path in paths:  # load the host map, the view and the manifests
        edge.get(path)
    queries: list[str] = []

    def count(*args: Any) -> None:
        queries.append(str(args[2]))

    engine = edge.client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        for path in paths * 3:
            assert edge.get(path).status_code in (200, 404)
        assert queries == []
        clock.now += 1.5  # stale: one check of the host map, one of the view
        edge.get("/")
        assert 0 < len(queries) <= 3, queries
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_repoint_by_another_process_is_seen_once_stale(edge: Edge) -> None:
    clock = Clock()
    edge.app_edge.cache.clock = clock
    assert b"ONE index" in edge.get("/").content
    # Another process: its own engine (no commit hook here), and a bare
    # UPDATE that bumps neither publish_seq nor the edition's timestamp.
    other = create_engine(edge.database)
    with other.begin() as conn:
        two = conn.execute(
            Build.__table__.select().where(col(Build.public_id) == edge.ids["two"])  # type: ignore[attr-defined]
        ).one()
        conn.execute(
            update(Edition).where(col(Edition.slug) == "__main").values(build_id=two.id)
        )
    other.dispose()
    assert b"ONE index" in edge.get("/").content  # still fresh: cached
    clock.now += 1.01
    assert b"TWO index" in edge.get("/").content


def test_the_cache_stands_alone(edge: Edge) -> None:
    """An :class:`EdgeCache` on its own engine, as a second process has."""
    engine = create_engine(edge.database)
    cache = EdgeCache(engine, StoreProvider(f"file://{edge.storage}"))

    async def main() -> tuple[str | None, bool]:
        routed = await cache.route(HOST, "/index.html")
        assert routed is not None and routed.path == "/index.html"
        build = routed.site.view.main.build if routed.site.view.main else None
        manifest = await cache.manifest(edge.ids["one"])
        return build, "big.bin" in manifest

    assert anyio.run(main) == (edge.ids["one"], True)
    assert anyio.run(cache.route, "nope.docs.test", "/") is None
    engine.dispose()


# -- pieces -------------------------------------------------------------------


def test_manifests_are_evicted_least_recently_used_by_file_count() -> None:
    meta = FileMeta(1, '"x"', "text/plain", "p/_objects/x")
    cache = ManifestCache(max_files=5)
    cache.put("a", {"1": meta, "2": meta})
    cache.put("b", {"1": meta, "2": meta})
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", {"1": meta, "2": meta})
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.files == 4
    cache.put("huge", {str(i): meta for i in range(10)})
    assert "huge" in cache and cache.files == 10  # the newest always stays


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=0-", 0, Unsatisfiable()),
        ("bytes=-1", 0, Unsatisfiable()),
        ("bytes=10-", 10, Unsatisfiable()),
        ("bytes=3-2", 10, Unsatisfiable()),
        ("bytes=1-2,4-5", 10, None),
        ("bytes=+1-2", 10, Unsatisfiable()),
        ("bytes=١-٢", 10, Unsatisfiable()),  # noqa: RUF001 - not ASCII digits
        ("bytes = 1-2", 10, None),
        ("bytes=", 10, None),
    ],
)
def test_byte_range(header: str, size: int, expected: object) -> None:
    assert byte_range(header, size) == expected


def test_etag_matching_is_weak() -> None:
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches(' "b" , "a"', '"a"')
    assert not etag_matches('"ab"', '"a"')


def test_streaming_stops_reading_when_the_client_leaves() -> None:
    read: list[int] = []
    closed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        try:
            for i in range(10_000):
                read.append(i)
                yield b"x" * 65536
        finally:
            closed.append(True)

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        await anyio.sleep(0)  # the network takes its time

    source = chunks()
    next(source)  # the first chunk went out with the headers
    anyio.run(_send_rest, send, receive, source)
    assert closed == [True]
    assert len(read) < 100, "kept reading for a client that was gone"
