"""Real-browser tests: `keeper demo` as a process, Debian's Chromium driven by
Playwright.

No browser is ever downloaded (``playwright install`` is not needed):
Playwright launches ``/usr/bin/chromium`` from the Debian package that
``scripts/system-packages`` installs. Without it the tests skip on a laptop
and fail under ``CI=true``.

Every step a test wants a person to be able to check later is saved as a
screenshot under ``test-artifacts/screenshots/`` (git-ignored; CI keeps it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.servers import free_port, skip_or_fail

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
#: What `keeper demo` sets up (keeper/demo.py).
ADMIN_TOKEN = "demo-admin-token"
ORG = "demo"
PRODUCT = "example"
#: Generous for a loaded CI machine; a demo normally starts in about 10 s.
DEMO_START_TIMEOUT = 180.0
#: Every wait in a page: long enough for a busy runner, short enough that a
#: broken page fails in seconds rather than hanging the suite.
PAGE_TIMEOUT_MS = 15_000


def tool(name: str) -> str:
    """A command installed beside this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


@dataclass
class DemoSite:
    """A running `keeper demo`: its API on 127.0.0.1, its products on
    ``<product>.localhost``, which Chromium resolves to loopback by itself."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def host(self, product: str = PRODUCT) -> str:
        return f"{product}.localhost:{self.port}"

    def url(self, path: str = "/", product: str = PRODUCT) -> str:
        """The address a browser opens for ``path`` of ``product``."""
        return f"http://{self.host(product)}{path}"

    def site_client(self, product: str = PRODUCT) -> httpx.Client:
        """HTTP to ``product``'s site from Python, which does not resolve
        ``*.localhost``: connect to 127.0.0.1 and name the site in ``Host``.
        No proxies from the environment: everything here is on loopback."""
        return httpx.Client(
            base_url=self.api,
            headers={"Host": self.host(product)},
            timeout=30,
            trust_env=False,
        )

    def admin_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
            trust_env=False,
        )


def _wait_for_ready(
    process: subprocess.Popen[bytes], log: IO[bytes], *, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        log.seek(0)
        output = log.read().decode(errors="replace")
        if "The demo is ready" in output:
            return
        if process.poll() is not None:
            pytest.fail(
                f"keeper demo exited with status {process.returncode} before it "
                f"was ready:\n{output[-4000:]}"
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"keeper demo was not ready within {timeout:.0f}s:\n{output[-4000:]}"
            )
        time.sleep(0.1)


@contextmanager
def running_demo(workdir: Path, port: int | None = None) -> Iterator[DemoSite]:
    """`keeper demo` exactly as the quick start runs it, until the block
    ends; then stopped with SIGINT, the Ctrl+C the quick start tells readers
    to press, after which it must exit 0."""
    port = port or free_port()
    # Output goes to a file (a pipe nobody drains could fill up and block
    # the demo); unbuffered, so "The demo is ready" shows up when printed.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [tool("keeper"), "demo", "--port", str(port), "--dir", str(workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
        )
        try:
            _wait_for_ready(process, log, timeout=DEMO_START_TIMEOUT)
            yield DemoSite(port=port, workdir=workdir, process=process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            status: int | None
            try:
                status = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                status = None
            log.seek(0)
            output = log.read().decode(errors="replace")[-4000:]
        assert status == 0, f"keeper demo ended with {status} after SIGINT:\n{output}"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The quick start's demo on a free port.

    Session-scoped, so under ``pytest -n 2`` each worker that runs a browser
    test starts one demo of its own (in its own folder and on its own port)
    and keeps it until the worker ends, however xdist interleaves modules.
    """
    with running_demo(tmp_path_factory.mktemp("keeper-demo")) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. Module-scoped: Playwright's sync API
    keeps an event loop of its own while it runs, which should not outlive
    this package's modules on a worker that goes on to other tests."""
    if not CHROMIUM.exists():
        skip_or_fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
            "(apt-get install chromium, or run scripts/system-packages as root)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost") or host.endswith(".localhost")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies, no cache) and one page in it.

    Requests that would leave the machine are refused and, like uncaught
    JavaScript errors, fail the test: a published site must work from the
    platform alone, and a test must not depend on the internet.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    outside: list[str] = []
    errors: list[str] = []

    def refuse_outside(route: Route) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", refuse_outside)
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(f"{opened.url}: {error}"))
    try:
        yield opened
    finally:
        context.close()
    assert not outside, f"pages tried to reach outside the platform: {outside}"
    assert not errors, f"uncaught JavaScript errors: {errors}"


Shoot = Callable[[str], Path]


@pytest.fixture
def shoot(request: pytest.FixtureRequest, page: Page) -> Shoot:
    """``shoot("step")`` saves the page as
    ``test-artifacts/screenshots/<test>--<nn>-<step>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    for stale in SCREENSHOTS.glob(f"{test}--*.png"):
        stale.unlink()
    taken = 0

    def take(step: str) -> Path:
        nonlocal taken
        taken += 1
        path = SCREENSHOTS / f"{test}--{taken:02d}-{step}.png"
        # Transitions (a menu fading in) are finished first, so the picture
        # shows the state the test has just checked.
        page.screenshot(path=path, animations="disabled")
        return path

    return take
