"""Confirmation answers at once; the verify_build job does the work.

PATCH …/builds/{id} only records the confirmation and queues the job in the
same transaction; the build is ``processing`` until the job completes it
(or fails it, naming the files), and only then do editions move.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from keeper.app import create_app
from keeper.db import Build, BuildStatus, EditionHistory, Job, JobStatus
from keeper.jobs.kinds import RENDER_PAGES, VERIFY_BUILD
from keeper.services.builds.verification import finish_confirmation
from keeper.storage import StorageError
from tests.conftest import Keeper
from tests.jobs.conftest import all_jobs, engine, runner
from tests.publishing import publish, register, site, upload, verified
from tests.settled import SettledClient

BASE = "/api/orgs/lsst/products/pipelines"


def build_objects(k: Keeper, build_id: str) -> list[Path]:
    root = Path(k.settings.storage_url.removeprefix("file://"))
    return sorted(
        p for p in root.glob(f"pipelines/builds/{build_id}/**/*") if p.is_file()
    )


def main_build(k: Keeper) -> str | None:
    found: str | None = k.client.get(f"{BASE}/editions/__main").json()["build_id"]
    return found


def uploaded(k: Keeper, name: str = "one") -> dict[str, object]:
    files = site(name)
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, build, files)
    return build


def test_confirming_queues_the_work_and_answers_202(k: Keeper) -> None:
    build = uploaded(k)
    runner(k).stop()  # nothing runs until the test says so
    before = len(all_jobs(k))

    r = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )

    assert r.status_code == 202, r.text
    assert r.json()["status"] == "processing"
    # Queued in the request's transaction; nothing copied, nothing moved.
    assert [(j.kind, j.status) for j in all_jobs(k)[before:]] == [
        (VERIFY_BUILD, JobStatus.queued)
    ]
    assert build_objects(k, str(build["id"])) == []
    assert main_build(k) is None
    # Confirming again while it waits queues nothing more.
    again = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert again.status_code == 202 and len(all_jobs(k)) == before + 1
    # Uploads are refused from the moment it is confirmed.
    first = build["uploads"][0]  # type: ignore[index]
    refused = k.client.request(
        first["method"], first["url"], headers=first["headers"], content=b"x"
    )
    assert refused.status_code in (400, 409), refused.text

    # The job completes it, re-points __main and queues the pages.
    assert runner(k).run_until_idle() == 2
    shown = k.client.get(f"{BASE}/builds/{build['id']}").json()
    assert shown["status"] == "complete" and shown["completed"]
    assert main_build(k) == build["id"]
    kinds = [j.kind for j in all_jobs(k)[before:]]
    assert kinds == [VERIFY_BUILD, RENDER_PAGES]
    # A complete build confirmed again: 200, nothing queued.
    done = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert done.status_code == 200 and done.json()["status"] == "complete"
    assert len(all_jobs(k)) == before + 2


def test_a_build_that_fails_verification_names_its_files(k: Keeper) -> None:
    good = publish(k.client, BASE, k.auth(), site("good"))
    files = site("bad")
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, {"uploads": build["uploads"][1:]}, files)  # one never sent
    missing = build["uploads"][0]["path"]

    r = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert r.status_code == 202
    shown = verified(k.client, f"{BASE}/builds/{build['id']}", {}).json()

    assert shown["status"] == "failed"
    assert f"{missing} (missing)" in shown["error"]
    assert main_build(k) == good["id"]
    # The job did its work: the outcome is the build's, not a failed job.
    job = [j for j in all_jobs(k) if j.kind == VERIFY_BUILD][-1]
    assert job.status == JobStatus.done


def test_running_the_job_twice_completes_once(k: Keeper) -> None:
    """A runner killed after completing the build, before recording the job
    done, runs it again: no second history row, same build."""
    build = uploaded(k)
    r = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert r.status_code == 202
    verified(k.client, f"{BASE}/builds/{build['id']}", {})
    with Session(engine(k)) as session:
        row = session.exec(select(Build).where(Build.public_id == build["id"])).one()
        row_id = row.id
    assert row_id is not None

    again = finish_confirmation(engine(k), runner(k).runtime, row_id, actor="test")

    assert again.build is not None and again.build.status == BuildStatus.complete
    assert again.moved == []
    with Session(engine(k)) as session:
        history = session.exec(select(EditionHistory)).all()
    assert len(history) == 1
    assert main_build(k) == build["id"]


class _Down:
    """A store every call to which fails."""

    def __getattr__(self, name: str) -> object:
        raise StorageError("the store is down")


def test_a_store_that_keeps_failing_fails_the_build_after_the_last_attempt(
    k: Keeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = uploaded(k)
    with monkeypatch.context() as broken:
        broken.setattr(runner(k).runtime.stores, "for_org", lambda org: _Down())
        r = k.client.patch(
            f"{BASE}/builds/{build['id']}",
            headers=k.auth(),
            json={"status": "uploaded"},
        )
        assert r.status_code == 202
        shown = verified(k.client, f"{BASE}/builds/{build['id']}", {}).json()

    # Two attempts (the fixture's KEEPER_JOB_ATTEMPTS), then failed for good.
    assert shown["status"] == "failed"
    assert "the store is down" in shown["error"]
    job = [j for j in all_jobs(k) if j.kind == VERIFY_BUILD][-1]
    assert job.status == JobStatus.failed and job.attempts == 2
    assert main_build(k) is None
    # The store is back: confirming again completes it.
    r = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert r.status_code == 202
    assert verified(k.client, f"{BASE}/builds/{build['id']}", {}).json()["status"] == (
        "complete"
    )
    assert main_build(k) == build["id"]


def test_a_build_left_processing_is_verified_when_keeper_starts(
    k: Keeper, tmp_path: Path
) -> None:
    """An older keeper that stopped mid-confirmation left the build
    ``processing`` with no job; starting keeper queues one."""
    build = uploaded(k)
    with Session(engine(k)) as session:
        row = session.exec(select(Build).where(Build.public_id == build["id"])).one()
        row.status = BuildStatus.processing
        session.add(row)
        session.commit()
    assert not [j for j in all_jobs(k) if j.kind == VERIFY_BUILD]

    with SettledClient(create_app(k.settings)) as client:
        shown = verified(client, f"{BASE}/builds/{build['id']}", {}).json()
    assert shown["status"] == "complete"
    with Session(engine(k)) as session:
        jobs = session.exec(select(Job).where(Job.kind == VERIFY_BUILD)).all()
    assert [j.status for j in jobs] == [JobStatus.done]
