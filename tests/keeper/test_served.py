"""keeper as a real process: `keeper serve` in an empty folder, over real
HTTP, on SQLite and PostgreSQL, with the filesystem and S3 stores."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keeper.db.migrate import head_revision
from tests.conftest import BOOTSTRAP
from tests.objects import build_in, folder_walk, read_build
from tests.publishing import (
    confirm,
    create_lsst_pipelines,
    publish,
    register,
    site,
    upload,
)
from tests.served import keeper_binary, served_keeper
from tests.servers import S3Endpoint

BASE = "/api/orgs/lsst/products/pipelines"
AUTH = {"Authorization": f"Bearer {BOOTSTRAP}"}


def serve(
    workdir: Path, env: dict[str, str], *, port: int | None = None
) -> Iterator[httpx.Client]:
    """The served keeper's HTTP client, for ``for client in serve(…)``."""
    with served_keeper(workdir, env, port=port) as keeper:
        yield keeper.client


def setup_product(client: httpx.Client) -> None:
    create_lsst_pipelines(client, AUTH)


def main_edition(client: httpx.Client) -> dict[str, object]:
    r = client.get(f"{BASE}/editions/__main")
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


def test_serve_in_an_empty_folder_with_defaults(tmp_path: Path) -> None:
    workdir = tmp_path / "empty"
    for client in serve(workdir, {}):
        setup_product(client)
        assert main_edition(client)["build_id"] is None
        first = publish(client, BASE, AUTH, site("one"))
        assert main_edition(client)["build_id"] == first["id"]
        second = register(client, BASE, AUTH, site("one"))
        assert second["uploads"] == []
        assert confirm(client, BASE, AUTH, second["id"]).status_code == 200
        assert main_edition(client)["build_id"] == second["id"]
    assert (workdir / "keeper.sqlite3").is_file()
    stored = folder_walk(workdir / "keeper-data" / "storage" / "lsst")()
    # The second build sent nothing: it is the first one's objects again.
    assert build_in(stored, "pipelines", first["id"]) == site("one")
    assert build_in(stored, "pipelines", second["id"]) == site("one")


@pytest.mark.s3server
@pytest.mark.parametrize("server", ["moto_s3", "rclone_s3"])
def test_publish_with_s3_storage_over_http(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    endpoint: S3Endpoint = request.getfixturevalue(server)
    bucket = endpoint.new_bucket()
    s3 = endpoint.client()
    env = endpoint.keeper_env(bucket)
    for client in serve(tmp_path, env):
        setup_product(client)
        files = site("s3")
        build = register(client, BASE, AUTH, files)
        # Presigned URLs go straight to the S3 server, not through keeper.
        assert all(u["url"].startswith(endpoint.endpoint_url) for u in build["uploads"])
        upload(httpx.Client(), build, files)
        assert confirm(client, BASE, AUTH, build["id"]).status_code == 200
        assert main_edition(client)["build_id"] == build["id"]
        again = register(client, BASE, AUTH, files)
        assert again["uploads"] == []
        assert confirm(client, BASE, AUTH, again["id"]).status_code == 200

    def read(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    assert read_build(read, "sites/lsst/pipelines", build["id"]) == files
    assert read_build(read, "sites/lsst/pipelines", again["id"]) == files


@pytest.mark.postgres
def test_simultaneous_confirmations_end_on_the_preferred_build(
    pg_database: str, tmp_path: Path
) -> None:
    """Two keeper processes on one PostgreSQL confirm builds for the same
    edition at the same moment, many times: the edition always ends on the
    build its rule prefers, never on whichever commit landed last."""
    from tests.conftest import _truncate_all

    _truncate_all(pg_database)
    env = {
        "KEEPER_DATABASE_URL": pg_database,
        "KEEPER_STORAGE_URL": f"file://{tmp_path / 'storage'}",
        "KEEPER_SECRET_KEY": "shared-secret",
    }
    for one in serve(tmp_path / "a", env):
        for two in serve(tmp_path / "b", env):
            setup_product(one)
            r = one.post(
                f"{BASE}/editions",
                headers=AUTH,
                json={
                    "slug": "stable",
                    "kind": "release",
                    "tracking_mode": "semver_release",
                },
            )
            assert r.status_code == 201
            for round_ in range(8):
                low = register(
                    one, BASE, AUTH, site(f"low{round_}"), git_ref=f"v1.{round_}.0"
                )
                high = register(
                    two, BASE, AUTH, site(f"high{round_}"), git_ref=f"v1.{round_}.1"
                )
                upload(one, low, site(f"low{round_}"))
                upload(two, high, site(f"high{round_}"))
                results: dict[str, int] = {}
                barrier = threading.Barrier(2)

                def go(
                    client: httpx.Client,
                    build: dict[str, object],
                    barrier: threading.Barrier = barrier,
                    results: dict[str, int] = results,
                ) -> None:
                    barrier.wait()
                    r = confirm(client, BASE, AUTH, str(build["id"]))
                    results[str(build["id"])] = r.status_code

                # The lower version confirms on the other process at the
                # same moment; whichever commits last, v1.N.1 must win.
                threads = [
                    threading.Thread(target=go, args=(two, high)),
                    threading.Thread(target=go, args=(one, low)),
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                assert set(results.values()) == {200}
                stable = one.get(f"{BASE}/editions/stable").json()
                assert stable["build_id"] == high["id"], f"round {round_}"


def test_token_create_command(tmp_path: Path) -> None:
    env = {**os.environ, "KEEPER_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}"}
    result = subprocess.run(
        [keeper_binary(), "token", "create", "--org", "nope", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "no organization 'nope'" in result.stderr
    result = subprocess.run(
        [keeper_binary(), "token", "create", "--role", "superadmin"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("ltd_")
    for client in serve(
        tmp_path / "srv", {"KEEPER_DATABASE_URL": env["KEEPER_DATABASE_URL"]}
    ):
        r = client.post(
            "/api/orgs",
            headers={"Authorization": f"Bearer {token}"},
            json={"slug": "made", "title": "Made"},
        )
        assert r.status_code == 201, r.text


def test_db_upgrade_command(tmp_path: Path) -> None:
    db = tmp_path / "k.sqlite3"
    env = {**os.environ, "KEEPER_DATABASE_URL": f"sqlite:///{db}"}
    for _ in range(2):  # the second run finds nothing to do
        result = subprocess.run(
            [keeper_binary(), "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert f"database at revision {head_revision()}" in result.stdout
    assert db.is_file()
