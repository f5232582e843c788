"""Atomic switches: readers never see a page mixing two builds, a 5xx or a
404 while an edition is re-pointed again and again, on every edge.

Readers behave like browsers: each fetches a page of the edition, then the
stylesheet and script it links, keeping the cookies the edge sets. Every
file names its build, so a page whose assets come from another build is
caught. Meanwhile the edition flips between two builds 50 times; each flip
is waited for (a reader without cookies sees it) before the next, so the
readers live through every one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.edge.demo import HOST, Demo, demo_keeper, store_env

SWITCHES = 50
#: On S3 too, fewer: the same code switches, only where bytes are read
#: differs (and a Varnish reload takes about three seconds).
S3_SWITCHES = 12
READERS = 4
EDITION = "atomic"
PAGES = ("index.html", "a.html", "b/index.html")


def build_files(label: str) -> dict[str, bytes]:
    files = {}
    for page in PAGES:
        depth = "../" * page.count("/")
        files[page] = (
            f"<!doctype html><title>{page}</title>"
            f'<link rel="stylesheet" href="{depth}_static/style.css">'
            f'<script src="{depth}_static/app.js"></script>'
            f'<p data-build="{label}">{label}</p>\n'
        ).encode()
    files["_static/style.css"] = f"/* build={label} */".encode()
    files["_static/app.js"] = f"// build={label}\n".encode()
    return files


_PAGE_BUILD = re.compile(rb'data-build="([^"]+)"')
_ASSET_BUILD = re.compile(rb"build=([A-Za-z0-9]+)")


@dataclass
class Tally:
    pages: int = 0
    mixed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    #: Requests sent again after a kept-alive connection closed unanswered.
    resent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_until(stop: threading.Event, base: str, tally: Tally, n: int) -> None:
    try:
        read_pages(stop, base, tally, n)
    except httpx.HTTPError as exc:  # a reset or refused connection counts too
        with tally.lock:
            tally.errors.append(f"{type(exc).__name__}: {exc}")


def get(client: httpx.Client, url: str, tally: Tally) -> httpx.Response:
    """GET as a browser does: a request sent on a kept-alive connection that
    the server closed (or reset) before answering is sent again, once, on a
    new one (RFC 9112 9.3.1). nginx closes idle connections when it reloads,
    and a close racing a request that already arrived is a reset."""
    try:
        return client.get(url)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        with tally.lock:
            tally.resent += 1
        return client.get(url)


def read_pages(stop: threading.Event, base: str, tally: Tally, n: int) -> None:
    with httpx.Client(base_url=base, headers={"Host": HOST}, timeout=30) as client:
        i = n
        while not stop.is_set():
            page = PAGES[i % len(PAGES)]
            i += 1
            answer = get(client, f"/v/{EDITION}/{page}", tally)
            if answer.status_code != 200:
                with tally.lock:
                    tally.errors.append(f"{page}: {answer.status_code}")
                continue
            found = _PAGE_BUILD.search(answer.content)
            build = found.group(1).decode() if found else "?"
            asset_builds = []
            for asset in ("_static/style.css", "_static/app.js"):
                got = get(client, f"/v/{EDITION}/{asset}", tally)
                if got.status_code != 200:
                    with tally.lock:
                        tally.errors.append(f"{asset}: {got.status_code}")
                    continue
                mark = _ASSET_BUILD.search(got.content)
                asset_builds.append(mark.group(1).decode() if mark else "?")
            with tally.lock:
                tally.pages += 1
                tally.seen.add(build)
                if any(b != build for b in asset_builds):
                    tally.mixed.append(f"{page} of {build} with {asset_builds}")


def current_build(base: str) -> str | None:
    answer = httpx.get(f"{base}/v/{EDITION}/index.html", headers={"Host": HOST})
    found = _PAGE_BUILD.search(answer.content)
    return found.group(1).decode() if found else None


def switch_under_readers(demo: Demo, base: str, switches: int = SWITCHES) -> Tally:
    first = demo.publish("demo", build_files("FIRST"), EDITION)
    second = demo.publish("demo", build_files("SECOND"), EDITION)
    labels = {first: "FIRST", second: "SECOND"}
    wait_for(lambda: current_build(base) == "SECOND", "the edge to show SECOND")
    tally = Tally()
    stop = threading.Event()
    readers = [
        threading.Thread(target=read_until, args=(stop, base, tally, n))
        for n in range(READERS)
    ]
    for reader in readers:
        reader.start()
    try:
        for n in range(switches):
            target = first if n % 2 == 0 else second
            demo.point(EDITION, target)
            label = labels[target]
            wait_for(
                lambda label=label: current_build(base) == label,  # type: ignore[misc]
                f"switch {n + 1} to {label}",
            )
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    return tally


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.02)


@contextmanager
def builtin_edge(demo: Demo, workdir: Path) -> Iterator[tuple[str, int]]:
    host, _, port = demo.keeper.url.removeprefix("http://").partition(":")
    yield host, int(port)


def _nginx(demo: Demo, workdir: Path) -> AbstractContextManager[tuple[str, int]]:
    from tests.edge.nginx import nginx_edge

    return nginx_edge(demo, workdir)


def _varnish(demo: Demo, workdir: Path) -> AbstractContextManager[tuple[str, int]]:
    from tests.edge.varnish import varnish_edge

    return varnish_edge(demo, workdir)


EDGES = {"builtin": builtin_edge, "nginx": _nginx, "varnish": _varnish}


@pytest.mark.parametrize(
    "store", ["filesystem", pytest.param("s3", marks=pytest.mark.s3server)]
)
@pytest.mark.parametrize("edge", list(EDGES))
def test_switches_under_readers(
    edge: str, store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On the folder store nginx and Varnish read hard-linked build trees;
    on S3, copies made before each build completes."""
    env = store_env(request, store, anonymous_reads=True)
    with (
        demo_keeper(tmp_path / "keeper", env) as demo,
        EDGES[edge](demo, tmp_path / edge) as (host, port),
    ):
        switches = SWITCHES if store == "filesystem" else S3_SWITCHES
        tally = switch_under_readers(demo, f"http://{host}:{port}", switches)
    assert tally.errors == []
    assert tally.mixed == []
    # The readers really lived through the switches.
    assert tally.seen == {"FIRST", "SECOND"}
    assert tally.pages >= switches
