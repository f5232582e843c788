"""keeper as a real process (`keeper serve`) for tests that talk to it over
HTTP the way a client does: ``ltd``, CI jobs, two processes on one database.

The process runs in ``workdir``, so its defaults (the SQLite file, the
storage folder, the secret key) land there and nowhere else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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

    def log(self) -> str:
        """What keeper has printed so far (``workdir/keeper.log``)."""
        path = self.workdir / "keeper.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@contextmanager
def served_keeper(
    workdir: Path, env: dict[str, str] | None = None, *, port: int | None = None
) -> Iterator[ServedKeeper]:
    """Run `keeper serve` until the ``with`` block ends; ``env`` adds to (and
    overrides) the test process's environment."""
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
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield ServedKeeper(url, client, workdir, process=process)
