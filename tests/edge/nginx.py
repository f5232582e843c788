"""A real nginx on the configuration ``keeper edge render --target nginx``
writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.edge.demo import ORG, Demo
from tests.servers import find_executable, free_port, running_server, skip_or_fail


@contextmanager
def nginx_edge(
    demo: Demo, workdir: Path, *, org: str = ORG
) -> Iterator[tuple[str, int]]:
    """Render the configuration of ``org`` (the demo org unless told) into
    ``workdir`` and run nginx on it until the ``with`` block ends; yields the
    address readers use.

    The render records the edge, so every later publish on ``demo``'s
    keeper rewrites the files and reloads this nginx.
    """
    port = free_port()
    conf = workdir / "nginx"
    rendered = demo.keeper_cli(
        "edge",
        "render",
        "--target",
        "nginx",
        "--org",
        org,
        "--listen",
        f"127.0.0.1:{port}",
        "--out",
        str(conf),
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    with running_nginx(conf, port):
        yield "127.0.0.1", port


@contextmanager
def running_nginx(conf: Path, port: int) -> Iterator[None]:
    """nginx on the configuration rendered into ``conf`` (listening on
    ``port``), in the foreground, until the ``with`` block ends."""
    binary = find_executable("nginx")
    if binary is None:
        skip_or_fail("nginx is not installed (apt-get install nginx)")
    command = [
        binary,
        "-p",
        str(conf),
        "-c",
        str(conf / "nginx.conf"),
        # The compiled-in error log (/var/log/nginx) until the file is read.
        "-e",
        str(conf / "logs" / "error.log"),
        "-g",
        "daemon off;",
    ]
    with running_server(command, f"http://127.0.0.1:{port}/", name="nginx"):
        yield
