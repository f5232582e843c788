"""`ltd upload` waits until the editions it moved are published on every
page and edge, and fails when keeper could not publish them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.keeper.test_served import serve, setup_product
from tests.ltd.test_upload import BASE, Served, write_site
from tests.served import keeper_binary
from tests.servers import free_port


def record_nginx_edge(workdir: Path, out: Path) -> None:
    done = subprocess.run(
        [keeper_binary(), "edge", "render", "--target", "nginx", "--org", "lsst"]
        + ["--listen", f"127.0.0.1:{free_port()}", "--out", str(out)],
        cwd=workdir,
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_upload_waits_for_the_edge_and_names_the_published_urls(
    tmp_path: Path,
) -> None:
    out = tmp_path / "nginx"
    for client in serve(tmp_path / "keeper", {}):
        setup_product(client)
        record_nginx_edge(tmp_path / "keeper", out)
        served = Served(client, str(client.base_url).rstrip("/"), None)
        site = tmp_path / "site"
        write_site(site, 10)
        done = served.upload(site)
        assert done.returncode == 0, done.stderr
        assert "__main: " in done.stdout and "(pending)" not in done.stdout
        main = client.get(f"{BASE}/editions/__main").json()
        assert main["publish_status"] == "published"
        # The edge was updated before ltd said so.
        assert main["build_id"] in (out / "sites.conf").read_text()


def test_upload_fails_when_an_edge_cannot_be_updated(tmp_path: Path) -> None:
    out = tmp_path / "nginx"
    env = {"KEEPER_JOB_ATTEMPTS": "2", "KEEPER_JOB_BACKOFF_SECONDS": "0.01"}
    for client in serve(tmp_path / "keeper", env):
        setup_product(client)
        record_nginx_edge(tmp_path / "keeper", out)
        shutil.rmtree(out)
        out.write_text("the edge's folder is a file now")
        served = Served(client, str(client.base_url).rstrip("/"), None)
        site = tmp_path / "site"
        write_site(site, 10)
        done = served.upload(site)
        assert done.returncode == 7, done.stderr
        assert "edition __main was not published: update_edges" in done.stderr
        assert str(out) in done.stderr
        # The build itself is complete; only publishing it failed.
        main = client.get(f"{BASE}/editions/__main").json()
        assert main["publish_status"] == "failed"

        no_wait = served.upload(site, "--no-wait")
        assert no_wait.returncode == 0, no_wait.stderr
