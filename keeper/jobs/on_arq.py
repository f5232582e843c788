"""Jobs on arq (Redis): ``keeper serve`` queues, ``keeper worker`` runs.

The ``job`` table stays the record of what must run, written in the
change's transaction. Redis carries only the nudge "there is work"
(:data:`RUN_DUE`), and every worker also looks every few seconds: a nudge
lost with Redis costs seconds, never a job. A worker runs the same
:class:`~keeper.jobs.runner.JobRunner` code as the embedded runner, and
claims jobs from the table the same way, so workers and embedded runners
on one database never run one job twice.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Any

from arq import ArqRedis, create_pool, cron, func
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy.engine import Engine

from keeper.config import Settings
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from keeper.jobs.handlers import Work
from keeper.jobs.runner import JobRunner, listen_for_jobs, stop_listening
from keeper.services.runtime import Runtime

log = logging.getLogger(__name__)

#: The one arq function: run every job that is due, then return.
RUN_DUE = "run_due"
#: How often every worker looks for due jobs without being nudged (jobs
#: backing off, nudges lost), in seconds of the minute.
SWEEP_SECONDS = set(range(0, 60, 5))
#: Drains one worker runs at once (each takes its own jobs from the table).
WORKER_CONCURRENCY = 2


#: A drain hands over after this long (between two jobs): the next nudge or
#: sweep goes on, and arq never has to cancel a drain (which could not stop
#: its thread anyway).
DRAIN_SECONDS = 30.0


async def run_due(ctx: dict[str, Any]) -> int:
    runner: JobRunner = ctx["runner"]
    # Handlers are blocking code (storage, subprocesses): off the loop.
    return await asyncio.to_thread(runner.run_until_idle, seconds=DRAIN_SECONDS)


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    engine = make_engine(settings.database_url)
    await asyncio.to_thread(upgrade, engine)
    ctx["runner"] = JobRunner(engine, Runtime.from_settings(settings), work=ctx["work"])


async def _shutdown(ctx: dict[str, Any]) -> None:
    runner: JobRunner | None = ctx.get("runner")
    if runner is not None:
        runner.abandon()
        runner.engine.dispose()


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise ValueError("KEEPER_REDIS_URL is not set")
    return RedisSettings.from_dsn(settings.redis_url)


def worker(settings: Settings, work: Work, *, burst: bool = False) -> Worker:
    """An arq worker running ``work`` (``keeper worker``)."""
    return Worker(
        functions=[func(run_due, name=RUN_DUE, max_tries=1)],
        cron_jobs=[cron(run_due, second=SWEEP_SECONDS, run_at_startup=True)],
        queue_name=settings.job_queue_name,
        redis_settings=redis_settings(settings),
        on_startup=_startup,
        on_shutdown=_shutdown,
        ctx={"settings": settings, "work": work},
        burst=burst,
        max_jobs=WORKER_CONCURRENCY,
        # A drain ends after its current job once DRAIN_SECONDS passed; a
        # single job is not bounded by arq (its lease is renewed while it
        # runs), so arq's timeout is only a last resort.
        job_timeout=24 * 3600,
        keep_result=0,
        # Retries are the job table's (backoff, attempts); a failed drain
        # is simply the next nudge's or sweep's to redo.
        retry_jobs=False,
    )


class ArqNudge:
    """In ``keeper serve`` with Redis: each commit that queued jobs puts one
    :data:`RUN_DUE` on arq's queue, from whichever thread committed."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._pool: ArqRedis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._pool = await create_pool(
            redis_settings(self.settings),
            default_queue_name=self.settings.job_queue_name,
        )
        self._loop = asyncio.get_running_loop()
        listen_for_jobs(self)

    async def stop(self) -> None:
        stop_listening(self)
        if self._pool is not None:
            await self._pool.aclose()

    def wake(self) -> None:
        if self._pool is None or self._loop is None:
            return
        coro = self._pool.enqueue_job(RUN_DUE)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            task = self._loop.create_task(coro)
            task.add_done_callback(_log_failure)
        else:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
            future.add_done_callback(_log_failure)


def _log_failure(done: Future[Any] | asyncio.Task[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        # The job is in the table; a worker's sweep runs it within seconds.
        log.warning("could not nudge the workers: %s", done.exception())
