"""Running jobs from the ``job`` table.

The embedded default: ``keeper serve`` starts one :class:`JobRunner`
thread, which a commit that enqueued work wakes at once; it also looks for
work every ``job_poll_seconds``, so jobs written by other processes (the
CLI, another replica) run too. Several runners on one database never run
one job twice at the same time, nor two jobs of the same kind and key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from keeper.db import Job, JobStatus
from keeper.db.types import utcnow
from keeper.jobs import queue
from keeper.jobs.handlers import Work
from keeper.services.runtime import Runtime

log = logging.getLogger(__name__)


class Waker(Protocol):
    """Told when a commit on ``engine`` queued jobs: a runner of this
    process, or the nudge that wakes ``keeper worker`` processes."""

    engine: Engine

    def wake(self) -> None: ...


_wakers: weakref.WeakSet[Waker] = weakref.WeakSet()
_wakers_lock = threading.Lock()


def listen_for_jobs(waker: Waker) -> None:
    with _wakers_lock:
        _wakers.add(waker)


def stop_listening(waker: Waker) -> None:
    with _wakers_lock:
        _wakers.discard(waker)


class JobRunner:
    def __init__(
        self,
        engine: Engine,
        runtime: Runtime,
        *,
        work: Work,
        name: str | None = None,
    ) -> None:
        settings = runtime.settings
        self.engine = engine
        self.runtime = runtime
        self.work = work
        self.name = (
            name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.poll = settings.job_poll_seconds
        self.keep = timedelta(days=settings.job_keep_days)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned = 0.0
        #: Jobs being run now (one per thread running :meth:`run_one`).
        self._current: set[int] = set()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        listen_for_jobs(self)
        self._thread = threading.Thread(
            target=self._loop, name="keeper-jobs", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop after the current job; a job still running when ``timeout``
        passes ends with the process and runs again when its lease ends."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                self.abandon()
        stop_listening(self)

    def abandon(self) -> None:
        """The process is ending with a job still running: end its lease
        now, so the next runner (this one restarted, or another) takes it
        up at once instead of when the lease runs out."""
        running = list(self._current)
        if not running:
            return
        with Session(self.engine) as session:
            queue.set_lease(session, running, self.name, utcnow())

    @property
    def running(self) -> bool:
        return (
            self._thread is not None
            and self._thread.is_alive()
            and not self._stop.is_set()
        )

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_one()
                self._prune_now_and_then()
            except Exception:  # the database is away: try again later
                log.exception("the job runner could not reach the database")
                ran = False
            if not ran:
                self._wake.wait(self.poll)
                self._wake.clear()

    # -- the work ------------------------------------------------------------

    def run_one(self) -> bool:
        """Claim one job that may run now and run it; False if none was."""
        with Session(self.engine) as session:
            job = queue.claim(session, self.name, self.lease)
            if job is None:
                return False
            session.expunge(job)
        assert job.id is not None
        self._current.add(job.id)
        handler = self.work.handlers.get(job.kind)
        error = None
        started = time.monotonic()
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(job.id, beating), daemon=True
        )
        heart.start()
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            handler(self.engine, self.runtime, job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s (%s %s) failed: %s", job.id, job.kind, job.key, error)
        finally:
            beating.set()
            heart.join()
            self._current.discard(job.id)
        with Session(self.engine) as session:
            job = session.merge(job)
            if error is None:
                queue.finish(session, job)
                log.info(
                    "job %s (%s %s) done in %.3fs",
                    job.id,
                    job.kind,
                    job.key,
                    time.monotonic() - started,
                )
            else:
                settings = self.runtime.settings
                if job.attempts >= settings.job_attempts:
                    # Before the job shows failed: whoever sees it failed
                    # also sees the editions it leaves unpublished.
                    gave_up = self.work.gave_up.get(job.kind)
                    if gave_up is not None:
                        gave_up(self.engine, job, error)
                queue.fail(
                    session,
                    job,
                    error,
                    max_attempts=settings.job_attempts,
                    backoff=queue.backoff(
                        job.attempts,
                        base=settings.job_backoff_seconds,
                        cap=settings.job_backoff_max_seconds,
                    ),
                )
        return True

    def _heartbeat(self, job_id: int, done: threading.Event) -> None:
        # Renew the lease while the job runs, so a long job is never taken
        # up by another runner while this one still works on it; a runner
        # that dies stops renewing, and its job is taken up within a lease.
        while not done.wait(self.lease.total_seconds() / 3):
            try:
                with Session(self.engine) as session:
                    until = utcnow() + self.lease
                    queue.set_lease(session, [job_id], self.name, until)
            except Exception:  # the database is away: the lease may lapse
                log.exception("renewing the lease of job %s failed", job_id)

    def run_until_idle(
        self, limit: int = 10_000, *, seconds: float | None = None
    ) -> int:
        """Run due jobs in this thread until none is left (or ``limit`` jobs,
        or ``seconds`` have passed); returns how many."""
        ran = 0
        deadline = None if seconds is None else time.monotonic() + seconds
        while ran < limit and self.run_one():
            ran += 1
            if deadline is not None and time.monotonic() > deadline:
                break
        return ran

    def wait_idle(self, timeout: float = 30.0, *, within: float = 1.0) -> None:
        """Wait until no job is running or due within ``within`` seconds
        (for tools and tests that must see the outcome of what they just
        changed; a job backing off for longer is not waited for)."""
        deadline = time.monotonic() + timeout
        while due_or_running(self.engine, within=within):
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still running after {timeout}s")
            time.sleep(0.01)

    def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._pruned < 600:
            return
        self._pruned = now
        with Session(self.engine) as session:
            queue.prune(session, utcnow() - self.keep)


def due_or_running(engine: Engine, *, within: float = 0.0) -> int:
    """Jobs running, or queued to run within ``within`` seconds."""
    now = utcnow() + timedelta(seconds=within)
    with Session(engine) as session:
        found = session.exec(
            select(func.count()).where(
                (col(Job.status) == JobStatus.running)
                | ((col(Job.status) == JobStatus.queued) & (col(Job.run_after) <= now))
            )
        ).one()
    return int(found)


@event.listens_for(Session, "after_commit")
def _wake_runners(session: Session) -> None:
    # Not where work happens: only a nudge, so the runner of this process
    # starts on the jobs just committed instead of at its next poll.
    if not session.info.pop(queue.ENQUEUED, False):
        return
    bind: Any = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _wakers_lock:
        wakers = [w for w in _wakers if w.engine is engine]
    for waker in wakers:
        try:
            waker.wake()
        except Exception:  # the jobs are committed; the next poll finds them
            log.exception("waking the job runners failed")


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(queue.ENQUEUED, None)
