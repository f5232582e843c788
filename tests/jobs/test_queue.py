"""The job table as a queue, on SQLite and PostgreSQL: enqueued with the
change or not at all, coalesced, claimed once, retried, left failed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keeper.db import Job, JobStatus
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from keeper.db.types import utcnow
from keeper.jobs import queue
from keeper.jobs.handlers import Work

LEASE = timedelta(seconds=60)
NOW = timedelta(0)


def jobs(engine: Engine) -> list[Job]:
    with Session(engine) as session:
        return list(session.exec(select(Job).order_by(Job.id)))  # type: ignore[arg-type]


def add(engine: Engine, kind: str = "k", key: str = "a", **merge: list[int]) -> None:
    with Session(engine) as session:
        queue.enqueue(session, kind, key=key, org_id=1, merge=merge or None)
        session.commit()


def claim(engine: Engine, worker: str = "w1") -> Job | None:
    with Session(engine) as session:
        job = queue.claim(session, worker, LEASE)
        if job is not None:
            session.expunge(job)
        return job


def test_a_rolled_back_change_queues_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        queue.enqueue(session, "k", key="a")
        session.rollback()
    assert jobs(engine) == []


def test_the_same_work_waits_once_with_the_payloads_merged(engine: Engine) -> None:
    add(engine, products=[3])
    add(engine, products=[1, 3])
    add(engine, key="b")
    found = jobs(engine)
    assert [(j.key, j.status, j.payload) for j in found] == [
        ("a", JobStatus.queued, {"products": [1, 3]}),
        ("b", JobStatus.queued, {}),
    ]


def test_work_queued_while_its_job_runs_waits_for_the_next_run(engine: Engine) -> None:
    add(engine)
    running = claim(engine)
    assert running is not None
    add(engine)  # a change after the job read its state: it must run again
    assert [j.status for j in jobs(engine)] == [JobStatus.running, JobStatus.queued]
    # Not while the first holds its lease: work on one key runs one at a time.
    assert claim(engine, "w2") is None
    with Session(engine) as session:
        queue.finish(session, session.get(Job, running.id))  # type: ignore[arg-type]
    again = claim(engine, "w2")
    assert again is not None and again.id != running.id


def test_a_job_is_claimed_once(engine: Engine) -> None:
    add(engine, key="a")
    add(engine, key="b")
    first, second, third = claim(engine, "w1"), claim(engine, "w2"), claim(engine)
    assert first is not None and second is not None and third is None
    assert {first.key, second.key} == {"a", "b"}
    assert (first.attempts, first.worker) == (1, "w1")


def test_a_job_whose_runner_died_is_taken_up_when_its_lease_ends(
    engine: Engine,
) -> None:
    add(engine)
    with Session(engine) as session:
        dead = queue.claim(session, "dead", timedelta(seconds=-1))
    assert dead is not None
    taken = claim(engine, "alive")
    assert taken is not None and taken.id == dead.id
    assert (taken.worker, taken.attempts) == ("alive", 2)


def test_a_failed_attempt_waits_its_backoff_then_runs_again(engine: Engine) -> None:
    add(engine)
    job = claim(engine)
    assert job is not None
    with Session(engine) as session:
        row = session.get(Job, job.id)
        assert row is not None
        queue.fail(session, row, "boom", backoff=timedelta(hours=1))
    (row,) = jobs(engine)
    assert (row.status, row.error) == (JobStatus.queued, "boom")
    assert row.run_after > utcnow() + timedelta(minutes=59)
    assert claim(engine) is None  # not before its time


def test_a_job_out_of_attempts_stays_failed_with_its_error(engine: Engine) -> None:
    with Session(engine) as session:
        queue.enqueue(session, "k", key="a", max_attempts=2)
        session.commit()
    for attempt in (1, 2):
        job = claim(engine)
        assert job is not None and job.attempts == attempt
        with Session(engine) as session:
            row = session.get(Job, job.id)
            assert row is not None
            queue.fail(session, row, f"boom {attempt}", backoff=NOW)
    (row,) = jobs(engine)
    assert (row.status, row.error, row.attempts) == (JobStatus.failed, "boom 2", 2)
    assert row.finished is not None
    assert claim(engine) is None


def test_a_failed_attempt_gives_way_to_newer_waiting_work(engine: Engine) -> None:
    add(engine, products=[1])
    job = claim(engine)
    assert job is not None
    add(engine, products=[2])
    with Session(engine) as session:
        row = session.get(Job, job.id)
        assert row is not None
        queue.fail(session, row, "boom", backoff=NOW)
    first, second = jobs(engine)
    assert (first.status, first.error) == (JobStatus.superseded, "boom")
    # The waiting job now also purges what the failed one would have.
    assert (second.status, second.payload) == (
        JobStatus.queued,
        {"products": [1, 2]},
    )


def test_finished_jobs_are_pruned_failed_ones_kept(engine: Engine) -> None:
    add(engine, key="a")
    add(
        engine,
        key="b",
    )
    for _ in range(2):
        job = claim(engine)
        assert job is not None
        with Session(engine) as session:
            row = session.get(Job, job.id)
            assert row is not None
            if row.key == "a":
                queue.finish(session, row)
            else:
                row.max_attempts = 1
                queue.fail(session, row, "boom", backoff=NOW)
    with Session(engine) as session:
        assert queue.prune(session, utcnow() - timedelta(days=1)) == 0
        assert queue.prune(session, utcnow() + timedelta(seconds=1)) == 1
    assert [(j.key, j.status) for j in jobs(engine)] == [("b", JobStatus.failed)]


def test_backoff_doubles_up_to_its_cap() -> None:
    delays = [queue.backoff(n, base=1.0, cap=8.0).total_seconds() for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        expected = min(8.0, 2 ** (n - 1))
        assert expected / 2 <= delay <= expected


def test_two_transactions_queueing_the_same_work_make_one_job(engine: Engine) -> None:
    """The second waits for the first (PostgreSQL: on the unique index;
    SQLite: on the write lock), then merges into its job, without error."""
    first = Session(engine)
    queue.enqueue(first, "k", key="a", merge={"products": [1]})
    first.flush()
    done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with Session(engine) as session:
                queue.enqueue(session, "k", key="a", merge={"products": [2]})
                session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(0.5)  # it waits for the first transaction
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert errors == []
    assert [(j.status, j.payload) for j in jobs(engine)] == [
        (JobStatus.queued, {"products": [1, 2]})
    ]


def test_a_runner_that_stops_mid_job_hands_it_on_at_once(
    database_url: str, tmp_path: Path
) -> None:
    """keeper stopping (SIGTERM) with a job still running ends the job's
    lease, so the next runner need not wait the lease out."""
    from keeper.config import Settings
    from keeper.jobs.runner import JobRunner
    from keeper.services.runtime import Runtime

    started, release = threading.Event(), threading.Event()

    def slow(_engine: Engine, _runtime: Runtime, _job: Job) -> None:
        started.set()
        release.wait(30)

    engine = make_engine(database_url)
    upgrade(engine)
    runtime = Runtime.from_settings(
        Settings(database_url=database_url, secret_key_file=tmp_path / "secret")
    )
    add(engine)
    first = JobRunner(engine, runtime, work=Work({"k": slow}), name="first")
    first.start()
    try:
        assert started.wait(30)
        assert claim(engine, "second") is None  # leased to the first
        first.stop(timeout=0.1)
        taken = claim(engine, "second")
        assert taken is not None and taken.attempts == 2
    finally:
        release.set()
        engine.dispose()


def test_a_long_job_keeps_its_lease_while_it_runs(
    database_url: str, tmp_path: Path
) -> None:
    """A job that outlasts its lease is not taken up by another runner while
    its own still works on it (the lease is renewed)."""
    from keeper.config import Settings
    from keeper.jobs.runner import JobRunner
    from keeper.services.runtime import Runtime

    started, release = threading.Event(), threading.Event()

    def slow(_engine: Engine, _runtime: Runtime, _job: Job) -> None:
        started.set()
        release.wait(30)

    engine = make_engine(database_url)
    upgrade(engine)
    settings = Settings(
        database_url=database_url,
        secret_key_file=tmp_path / "secret",
        job_lease_seconds=1,
    )
    add(engine)
    first = JobRunner(engine, Runtime.from_settings(settings), work=Work({"k": slow}))
    first.start()
    try:
        assert started.wait(30)
        time.sleep(2.5)  # more than two leases
        assert claim(engine, "second") is None
    finally:
        release.set()
        first.stop(timeout=5)
        engine.dispose()
    (row,) = jobs(engine)
    assert (row.status, row.attempts) == (JobStatus.done, 1)
