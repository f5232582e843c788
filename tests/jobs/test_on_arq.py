"""Jobs on arq: with KEEPER_REDIS_URL, `keeper serve` only queues and
`keeper worker` processes run the jobs, on the same database."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.publishing import create_lsst_pipelines, publish, register, site, upload
from tests.served import ServedKeeper, keeper_binary, served_keeper
from tests.servers import eventually

BASE = "/api/orgs/lsst/products/pipelines"
JOBS = "/api/orgs/lsst/jobs"
SITE = {"Host": "pipelines.lsst.io"}


@contextmanager
def worker(
    keeper: ServedKeeper, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    log = (keeper.workdir / "worker.log").open("wb")
    process = subprocess.Popen(
        [keeper_binary(), "worker"],
        cwd=keeper.workdir,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        log.close()


def test_serve_queues_and_the_worker_runs(tmp_path: Path, redis_url: str) -> None:
    env = {
        "KEEPER_REDIS_URL": redis_url,
        # A queue of this test's own in the shared Redis.
        "KEEPER_JOB_QUEUE_NAME": f"keeper-test:{uuid.uuid4().hex}",
    }
    with served_keeper(tmp_path, env, settle=False) as keeper:
        client, auth = keeper.client, keeper.auth()
        create_lsst_pipelines(client, auth)
        files = site("first")
        first = register(client, BASE, auth, files)
        upload(client, first, files)
        confirmed = client.patch(
            f"{BASE}/builds/{first['id']}", headers=auth, json={"status": "uploaded"}
        )
        assert confirmed.status_code == 202, confirmed.text

        def queued(*, due: bool) -> set[str]:
            """The kinds of the queued jobs due now (``due``), or of those
            scheduled for later: each registration queues the collection
            of its build, should it be abandoned, a week (the default
            KEEPER_PENDING_BUILD_EXPIRES_IN) away."""
            r = client.get(JOBS, headers=auth, params={"status": "queued"})
            assert r.status_code == 200, r.text
            soon = datetime.now(UTC) + timedelta(hours=1)
            return {
                str(j["kind"])
                for j in r.json()
                if (datetime.fromisoformat(j["run_after"]) <= soon) == due
            }

        # No worker yet: the jobs wait in the table; serve runs none.
        time.sleep(1.5)
        assert queued(due=True) == {"render_pages", "verify_build"}
        assert queued(due=False) == {"collect_garbage"}
        shown = client.get(f"{BASE}/builds/{first['id']}").json()
        assert shown["status"] == "processing"
        assert client.get("/v/", headers=SITE).status_code == 404

        def shows(build: dict[str, object]) -> bool:
            page = client.get("/v/", headers=SITE)
            return page.status_code == 200 and str(build["id"]) in page.text

        with worker(keeper, env) as process:
            eventually(lambda: shows(first))

            # A worker already running is nudged at once by the commit.
            second = publish(client, BASE, auth, site("second"))

            eventually(lambda: shows(second), within=10)
            assert process.poll() is None
        log = (keeper.workdir / "worker.log").read_text()
        assert "run_due" in log and "(render_pages product:1) done in" in log
        assert "(verify_build build:" in log
        # Every job due ran; the collection waits for its time.
        assert not queued(due=True)
        assert queued(due=False) == {"collect_garbage"}
        r = client.get(JOBS, headers=auth, params={"status": "done"})
        assert len(r.json()) >= 2


def test_worker_refuses_to_start_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KEEPER_REDIS_URL"}
    done = subprocess.run(
        [keeper_binary(), "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "KEEPER_REDIS_URL" in done.stderr
