"""A real varnishd on the VCL ``keeper edge render --target varnish`` writes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.edge.demo import ORG, Demo
from tests.servers import find_executable, free_port, running_server, skip_or_fail


@contextmanager
def varnish_edge(demo: Demo, workdir: Path) -> Iterator[tuple[str, int]]:
    """Render the demo org's VCL into ``workdir`` and run varnishd on it
    until the ``with`` block ends; yields the address readers use.

    The render names the instance (``-n``) so that keeper's publishes
    reload this varnishd, and nothing else.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "vcl"
    instance = workdir / "varnishd"
    rendered = demo.keeper_cli(
        "edge",
        "render",
        "--target",
        "varnish",
        "--org",
        ORG,
        "--listen",
        f"127.0.0.1:{port}",
        "--out",
        str(conf),
        "--option",
        f"varnish_name={instance}",
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    with running_varnish(conf, port, instance):
        yield "127.0.0.1", port


@contextmanager
def running_varnish(conf: Path, port: int, instance: Path) -> Iterator[None]:
    """varnishd (instance ``instance``, the name keeper's reloads use) on
    the VCL rendered into ``conf``, listening on ``port``, until the
    ``with`` block ends."""
    binary = find_executable("varnishd")
    if binary is None or shutil.which("varnishadm") is None:
        skip_or_fail("varnishd is not installed (apt-get install varnish)")
    command = [
        binary,
        "-F",
        "-n",
        str(instance),
        "-f",
        str(conf / "default.vcl"),
        "-a",
        f"127.0.0.1:{port}",
        "-s",
        "malloc,64m",
    ]
    if os.geteuid() == 0:
        # As root, varnishd's default (unix) jail runs the compiler and the
        # cache process as the varnish users, who may not enter pytest's
        # private temporary folders.
        command += ["-j", "none"]
    with running_server(command, f"http://127.0.0.1:{port}/", name="varnishd"):
        yield
