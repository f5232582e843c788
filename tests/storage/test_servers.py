"""The local-server helpers themselves: skip locally, fail in CI."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests import servers


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="rclone is not installed"):
        servers.skip_or_fail("rclone is not installed")


def test_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        servers.skip_or_fail("rclone is not installed")


def test_rclone_server_skips_when_rclone_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(servers, "find_executable", lambda name: None)
    server = servers.rclone_s3_server(tmp_path)

    with pytest.raises(pytest.skip.Exception, match="rclone"), server:
        pass


def test_free_port_can_be_bound() -> None:
    port = servers.free_port()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_server_that_dies_is_reported_with_its_output() -> None:
    command = [sys.executable, "-c", "print('boom: bad flag'); raise SystemExit(3)"]

    url = f"http://127.0.0.1:{servers.free_port()}"
    server = servers.running_server(command, url, name="fake")

    dies = pytest.raises(RuntimeError, match=r"(?s)exited with status 3.*boom: bad")

    with dies, server:
        pass


@pytest.mark.s3server
def test_servers_answer_and_stop() -> None:
    with servers.moto_s3_server() as endpoint:
        url = endpoint.endpoint_url
        assert endpoint.endpoint_url.startswith("http://127.0.0.1:")
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
