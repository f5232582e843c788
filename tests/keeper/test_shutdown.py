"""`keeper serve` ends within seconds of SIGTERM, whatever it is doing: a
request stuck in a thread (here a runaway org template with a generous
budget), a client streaming an upload slowly. Container platforms send
SIGKILL 10 to 30 s after SIGTERM; before, keeper waited for ever."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.publishing import create_lsst_pipelines, publish, register, site
from tests.served import ServedKeeper, served_keeper

#: The issue asks for "a few seconds"; keeper's own deadline is 3 s for
#: requests and 2 s more for anything else. This leaves room for a busy
#: machine.
EXIT_WITHIN = 10.0
LOOPS = (
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
)
BASE = "/api/orgs/lsst/products/pipelines"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedKeeper]:
    # A budget far beyond the test's patience: the render stays stuck.
    env = {"KEEPER_TEMPLATE_CPU_SECONDS": "60", "KEEPER_TEMPLATE_WALL_SECONDS": "300"}
    with served_keeper(tmp_path, env) as keeper:
        client, auth = keeper.client, keeper.auth()
        create_lsst_pipelines(client, auth)
        yield keeper


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def wait_for_worker(pid: int) -> set[int]:
    """The render workers of keeper ``pid`` once it has one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = children(pid)
        if workers:
            return workers
        time.sleep(0.2)
    pytest.fail("keeper started no render worker")


def terminate(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """SIGTERM; the exit status and how long it took (killed at the bound)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"keeper was still running {EXIT_WITHIN} s after SIGTERM")
    return code, time.monotonic() - started


def test_sigterm_ends_keeper_while_a_request_is_stuck_rendering(
    served: ServedKeeper,
) -> None:
    keeper = served
    assert keeper.process is not None
    answered: list[int] = []

    def put_runaway_template() -> None:
        try:
            r = httpx.put(
                f"{keeper.url}/api/orgs/lsst/templates/editions.html",
                headers=keeper.auth(),
                json={"source": LOOPS},
                timeout=120,
            )
            answered.append(r.status_code)
        except httpx.HTTPError:
            answered.append(0)  # cut off by the shutdown

    request = threading.Thread(target=put_runaway_template, daemon=True)
    request.start()
    # The request is stuck in a thread of keeper's pool, waiting on a
    # render worker that loops.
    workers = wait_for_worker(keeper.process.pid)
    request.join(timeout=2)
    assert request.is_alive(), f"the request was not stuck: {answered}"

    code, _took = terminate(keeper.process)
    # Ended by the signal it was sent, as after any clean stop.
    assert code == -signal.SIGTERM
    # And the worker did not outlive it.
    deadline = time.monotonic() + EXIT_WITHIN
    while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in workers)
    request.join(timeout=EXIT_WITHIN)
    assert answered and answered[0] != 200
    # Nothing was stored: the next keeper on this folder shows keeper's own.
    with served_keeper(keeper.workdir) as again:
        r = again.client.get("/api/orgs/lsst/templates/editions.html")
        assert r.status_code == 200 and r.json()["overridden"] is False


def test_sigterm_ends_keeper_while_an_upload_streams_slowly(
    served: ServedKeeper,
) -> None:
    keeper = served
    assert keeper.process is not None
    data = b"x" * 1_000_000
    build = register(keeper.client, BASE, keeper.auth(), {"big.html": data})
    (grant,) = build["uploads"]
    url = urlsplit(grant["url"])
    headers = {**grant["headers"], "Content-Length": str(len(data))}
    with socket.create_connection((url.hostname or "", url.port or 80)) as conn:
        head = f"{grant['method']} {url.path}?{url.query} HTTP/1.1\r\n"
        head += f"Host: {url.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(head.encode() + b"\r\n" + data[:1000])
        # A slow client: a little more now and then, far from the end.
        for _ in range(5):
            time.sleep(0.2)
            conn.sendall(data[:100])
        code, _took = terminate(keeper.process)
    assert code == -signal.SIGTERM


def test_sigterm_ends_keeper_while_its_start_rewrites_pages(
    served: ServedKeeper,
) -> None:
    """At start keeper rewrites every product's pages in a thread; with an
    org template that runs away on a real product, that thread waits on a
    render worker."""
    keeper = served
    assert keeper.process is not None
    for n in range(5):
        publish(keeper.client, BASE, keeper.auth(), site(f"b{n}"), git_ref=f"b{n}")
    # Fine on the sample product (one build); the rewrite of this product's
    # pages that follows the change is stuck, and ends with the process.
    source = (
        "{% for a in range(10 ** builds_total) %}"
        "{% for b in range(10 ** builds_total) %}{% endfor %}{% endfor %}"
    )
    url = f"{keeper.url}/api/orgs/lsst/templates/builds.html"

    def put_template() -> None:
        with contextlib.suppress(httpx.HTTPError):  # cut off by the shutdown
            httpx.put(url, headers=keeper.auth(), json={"source": source}, timeout=60)

    threading.Thread(target=put_template, daemon=True).start()
    deadline = time.monotonic() + 30
    while not keeper.client.get(url).json()["overridden"]:
        assert time.monotonic() < deadline, "the template was not stored"
        time.sleep(0.2)
    wait_for_worker(keeper.process.pid)
    code, _took = terminate(keeper.process)
    assert code == -signal.SIGTERM

    env = {"KEEPER_TEMPLATE_CPU_SECONDS": "60", "KEEPER_TEMPLATE_WALL_SECONDS": "300"}
    with served_keeper(keeper.workdir, env) as again:
        assert again.process is not None
        r = again.client.get("/api/orgs/lsst/templates/builds.html")
        assert r.json()["overridden"] is True  # stored before the rewrite
        wait_for_worker(again.process.pid)
        code, _took = terminate(again.process)
    assert code == -signal.SIGTERM
