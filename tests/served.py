"""keeper as a real process (`keeper serve`) for tests that talk to it over
HTTP the way a client does: ``ltd``, CI jobs, two processes on one database.

The process runs in ``workdir``, so its defaults (the SQLite file, the
storage folder, the secret key) land there and nowhere else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from keeper.db.engine import make_engine
from keeper.jobs.runner import due_or_running
from tests.conftest import BOOTSTRAP
from tests.servers import find_executable, free_port, running_server


def keeper_binary() -> str:
    """This checkout's ``keeper`` (the venv's), before any other on PATH."""
    return find_executable("keeper") or str(Path(sys.executable).parent / "keeper")


@dataclass(frozen=True)
class ServedKeeper:
    """A running keeper: its URL, an HTTP client on it, its working folder
    and its process."""

    url: str
    client: httpx.Client
    workdir: Path
    token: str = BOOTSTRAP
    #: The `keeper serve` process (for its memory, or to signal it).
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        """What keeper has printed so far (``workdir/keeper.log``)."""
        path = self.workdir / "keeper.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until keeper has no job due or running: what the last change
        asked for (pages, edges) is done. The client does this after each
        request that is not a read; call it after changes made otherwise
        (``ltd upload`` in a subprocess, another client)."""
        settle_database(self.database_url, timeout)

    @property
    def database_url(self) -> str:
        return database_url_of(self.workdir, self.env)


@contextmanager
def served_keeper(
    workdir: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    settle: bool = True,
) -> Iterator[ServedKeeper]:
    """Run `keeper serve` until the ``with`` block ends; ``env`` adds to (and
    overrides) the test process's environment. Its client waits for the
    jobs each change queued unless ``settle`` is False."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "KEEPER_BOOTSTRAP_TOKEN": BOOTSTRAP,
        "KEEPER_BASE_URL": url,
        **(env or {}),
    }
    workdir.mkdir(parents=True, exist_ok=True)
    command = [keeper_binary(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (
        running_server(
            command,
            f"{url}/api",
            name="keeper",
            env=full_env,
            cwd=workdir,
            log_path=workdir / "keeper.log",
        ) as process,
        httpx.Client(
            base_url=url,
            timeout=30,
            event_hooks={
                "response": [_settle_after(database_url_of(workdir, env))]
                if settle
                else []
            },
        ) as client,
    ):
        try:
            yield ServedKeeper(url, client, workdir, process=process, env=env or {})
        finally:
            engine = _engines.pop(database_url_of(workdir, env), None)
            if engine is not None:
                engine.dispose()


def database_url_of(workdir: Path, env: dict[str, str] | None) -> str:
    # keeper's default is a SQLite file in its working folder.
    return (env or {}).get("KEEPER_DATABASE_URL") or os.environ.get(
        "KEEPER_DATABASE_URL", f"sqlite:///{workdir / 'keeper.sqlite3'}"
    )


def _settle_after(database_url: str) -> Callable[[httpx.Response], None]:
    def hook(response: httpx.Response) -> None:
        if response.request.method not in ("GET", "HEAD", "OPTIONS"):
            settle_database(database_url)

    return hook


def settle_database(database_url: str, timeout: float = 60.0) -> None:
    """Wait until the keeper on ``database_url`` has no job due or running."""
    engine = _engines.get(database_url)
    if engine is None:
        engine = _engines[database_url] = make_engine(database_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not due_or_running(engine, within=1.0):
                return
        except OperationalError:  # no job table yet: keeper is starting
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"keeper's jobs still ran after {timeout}s")
        time.sleep(0.02)


_engines: dict[str, Engine] = {}
