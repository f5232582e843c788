"""The built-in edge of a real `keeper serve`: the conformance table on the
filesystem store and on S3 (moto's server), several keeper processes on
one database, and orgs with the path layout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import BOOTSTRAP, _truncate_all
from tests.edge.cases import (
    CASES,
    Case,
    assert_generated_pages_under_the_root,
    assert_writes_change_nothing,
    run_case,
    send,
)
from tests.edge.demo import HOST, Demo, demo_keeper, populate_path_layout, store_env
from tests.served import ServedKeeper, served_keeper

AUTH = {"Authorization": f"Bearer {BOOTSTRAP}"}


def address(keeper: ServedKeeper) -> tuple[str, int]:
    url = urlsplit(keeper.url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


@pytest.fixture(
    scope="module",
    params=["filesystem", pytest.param("s3", marks=pytest.mark.s3server)],
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """The demo org, published once per store for the whole table."""
    env = store_env(request, request.param)
    workdir = tmp_path_factory.mktemp(f"edge-{request.param}")
    with demo_keeper(workdir, env) as published:
        yield published


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_conformance(demo: Demo, case: Case) -> None:
    problems = run_case(case, address(demo.keeper), demo.ids, edge="builtin")
    assert not problems, "\n".join(problems)


def test_writes_change_no_build(demo: Demo) -> None:
    assert_writes_change_nothing(address(demo.keeper), demo.store(), demo.ids)


def test_the_api_answers_on_keepers_own_host(demo: Demo) -> None:
    assert demo.keeper.client.get("/api").json()["name"] == "keeper"
    # The LTD Keeper 1.x root is the API's on keeper's host, the site's on
    # a product's host.
    assert "MAIN index" not in demo.keeper.client.get("/").text
    answer = send(address(demo.keeper), "GET", "/", HOST.upper() + ":80")
    assert answer.status == 200 and b"MAIN index" in answer.body


# -- several keeper processes on one database -----------------------------


def _switch_is_seen_by_the_other_process(workdir: Path, env: dict[str, str]) -> None:
    with (
        demo_keeper(workdir, env) as demo,
        served_keeper(workdir, env) as other,
    ):
        edge = address(other)
        assert b"MAIN index" in send(edge, "GET", "/", HOST).body
        demo.point("__main", demo.ids["old"])
        switched = time.monotonic()
        seen = []
        while time.monotonic() - switched < 3.0:
            answer = send(edge, "GET", "/", HOST)
            # Readers see one build or the other, never a gap.
            assert answer.status == 200, answer.status
            seen.append(answer.body)
            if b"OLD index" in answer.body:
                break
        elapsed = time.monotonic() - switched
        assert b"OLD index" in seen[-1], "the other process never switched"
        assert elapsed < 1.5, f"the other process switched after {elapsed:.2f}s"


def test_another_process_sees_a_switch_within_a_second_sqlite(tmp_path: Path) -> None:
    _switch_is_seen_by_the_other_process(tmp_path, {})


@pytest.mark.postgres
def test_another_process_sees_a_switch_within_a_second_postgres(
    tmp_path: Path, pg_database: str
) -> None:
    _truncate_all(pg_database)  # the session's database: other tests were here
    _switch_is_seen_by_the_other_process(tmp_path, {"KEEPER_DATABASE_URL": pg_database})


# -- the path layout ------------------------------------------------------------


@pytest.fixture(scope="module")
def path_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedKeeper]:
    """Org ``paths`` (``paths.test``, path layout) with product ``demo``:
    ``main`` on ``__main`` and ``x`` on edition ``x``."""
    with served_keeper(tmp_path_factory.mktemp("edge-path")) as keeper:
        populate_path_layout(keeper)
        yield keeper


def _path_case(keeper: ServedKeeper, path: str) -> tuple[int, str | None, bytes]:
    answer = send(address(keeper), "GET", path, "Paths.Test")
    return answer.status, answer.headers.get("Location"), answer.body


def test_path_layout_serves_main_under_the_product(path_site: ServedKeeper) -> None:
    status, _, body = _path_case(path_site, "/demo/")
    assert status == 200 and b"PATH main" in body


def test_path_layout_root_without_slash_redirects(path_site: ServedKeeper) -> None:
    assert _path_case(path_site, "/demo")[:2] == (301, "/demo/")
    assert _path_case(path_site, "/demo?a=1")[:2] == (301, "/demo/?a=1")


def test_path_layout_editions(path_site: ServedKeeper) -> None:
    status, _, body = _path_case(path_site, "/demo/v/x/")
    assert status == 200 and b"PATH x" in body
    assert _path_case(path_site, "/demo/v/x")[:2] == (301, "/demo/v/x/")


def test_path_layout_redirects_carry_the_root(path_site: ServedKeeper) -> None:
    assert _path_case(path_site, "/demo/guide")[:2] == (301, "/demo/guide/")
    assert _path_case(path_site, "/demo/start")[:2] == (302, "/demo/guide/")
    assert _path_case(path_site, "/demo/old.html")[:2] == (301, "/demo/index.html")
    assert _path_case(path_site, "/demo/v/__main/old.html")[:2] == (
        301,
        "/demo/v/__main/index.html",
    )


def test_path_layout_generated_pages(path_site: ServedKeeper) -> None:
    assert_generated_pages_under_the_root(
        lambda path: send(address(path_site), "GET", path, "paths.test")
    )


def test_path_layout_platform_page_links_under_the_root(
    path_site: ServedKeeper,
) -> None:
    status, _, body = _path_case(path_site, "/demo/v/nope/")
    assert status == 404 and b'href="/demo/v/"' in body


def test_path_layout_leaves_other_paths_to_the_api(path_site: ServedKeeper) -> None:
    # Not a product of the org: the API's answer (JSON), not the edge's.
    answer = send(address(path_site), "GET", "/api", "paths.test")
    assert answer.status == 200 and b'"keeper"' in answer.body
