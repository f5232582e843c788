"""``keeper jobs``: an operator finds a failed job, reads its error,
queues it again and runs it without a server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlmodel import Session

from keeper.db import Job, JobStatus
from keeper.db.engine import make_engine
from keeper.jobs.kinds import RENDER_PAGES
from tests.served import keeper_binary


def keeper(
    env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [keeper_binary(), *args], env=env, capture_output=True, text=True, cwd=cwd
    )


def test_a_failed_job_is_listed_shown_retried_and_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    env = {**os.environ, "KEEPER_DATABASE_URL": url}
    assert keeper(env, tmp_path, "db", "upgrade").returncode == 0
    engine = make_engine(url)
    with Session(engine) as session:
        # Rendering a product that is gone since: the job has nothing to do
        # now, so once retried it succeeds.
        job = Job(
            kind=RENDER_PAGES,
            key="product:999",
            product_id=999,
            status=JobStatus.failed,
            attempts=8,
            error="OSError: the store was away\nsecond line",
        )
        session.add(job)
        session.commit()
        job_id = str(job.id)
    engine.dispose()

    listed = keeper(env, tmp_path, "jobs", "list", "--status", "failed")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line.split("\t") for line in listed.stdout.splitlines()]
    assert row[:6] == [job_id, RENDER_PAGES, "product:999", "-", "failed", "8/8"]
    assert row[7] == "OSError: the store was away"
    shown = keeper(env, tmp_path, "jobs", "show", job_id)
    assert "second line" in shown.stdout

    assert keeper(env, tmp_path, "jobs", "retry", job_id).returncode == 0
    ran = keeper(env, tmp_path, "jobs", "run")
    assert ran.returncode == 0 and "ran 1 job(s)" in ran.stdout, ran.stderr
    listed = keeper(env, tmp_path, "jobs", "list")
    assert listed.stdout.split("\t")[4] == "done"

    again = keeper(env, tmp_path, "jobs", "retry", job_id)
    assert again.returncode != 0 and "only failed jobs" in again.stderr
    missing = keeper(env, tmp_path, "jobs", "show", "12345")
    assert missing.returncode != 0 and "no job 12345" in missing.stderr
