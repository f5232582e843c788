"""The released ``ltd-conveyor`` 0.8 client, installed from PyPI into a
venv of its own: its pins (boto3, requests, click) must not meet ours."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from tests.servers import skip_or_fail

REQUIREMENT = "ltd-conveyor<0.9"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "ltd-conveyor-0.8"
_INSTALL_TIMEOUT = 600


def ltd_command() -> Path:
    """The ``ltd`` executable, installing it once; a file lock makes the
    xdist workers of one test session wait for the first one's install."""
    ltd = CACHE / "bin" / "ltd"
    done = CACHE / ".installed"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with (CACHE.parent / "ltd-conveyor-0.8.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done.is_file() and ltd.is_file()):
            _install()
            done.write_text(_version(ltd))
    return ltd


def _install() -> None:
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(CACHE)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [str(CACHE / "bin" / "python"), "-m", "pip", "install", "-q", REQUIREMENT],
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT,
    )
    if result.returncode != 0:
        skip_or_fail(
            f"cannot install {REQUIREMENT} from PyPI into {CACHE}:\n"
            f"{result.stderr[-2000:]}"
        )


def _version(ltd: Path) -> str:
    result = subprocess.run(
        [str(ltd), "--version"], capture_output=True, text=True, check=True
    )
    if "version 0.8." not in result.stdout:
        skip_or_fail(f"{REQUIREMENT} installed {result.stdout.strip()!r}")
    return result.stdout
