"""``keeper serve``: uvicorn, with a shutdown that always ends.

On SIGTERM (or Ctrl+C) uvicorn stops accepting connections and waits for
requests in flight. Left alone it waits for ever: a slow client streaming an
upload, a request stuck in a thread (threads cannot be interrupted), a
lifespan that does not return, and the worker threads of the thread pool,
which are not daemons and so hold the interpreter at exit. So:

- requests get ``shutdown_seconds`` to finish, then uvicorn cancels them;
- the app's shutdown stops what it started (page writing, render workers);
- and whatever still runs ``SHUTDOWN_MARGIN_SECONDS`` later, the process
  ends anyway (:func:`exit_later`).

The exit status says why keeper ended: killed by the signal it was sent
(what service managers expect, and what uvicorn does after a clean stop),
``STARTUP_FAILURE`` (3) when it could not start, 1 on any other error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from keeper.app import create_app
from keeper.config import get_settings
from keeper.domain.limits import SHUTDOWN_MARGIN_SECONDS

log = logging.getLogger("keeper.serve")
APP = "keeper.serving:served_app"


def run(*, host: str, port: int, workers: int = 1) -> int:
    """Serve until a signal; returns the exit status (when not ended by
    that signal)."""
    grace = get_settings().shutdown_seconds
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "proxy_headers": True,
        "timeout_graceful_shutdown": grace,
    }
    if workers > 1:
        # uvicorn's supervisor starts its own servers in each worker
        # process; there the app's shutdown arms the hard exit.
        uvicorn.run(APP, **options)
        return 0
    server = _Server(
        uvicorn.Config(APP, **options), deadline=grace + SHUTDOWN_MARGIN_SECONDS
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn passes Ctrl+C on
        server.run()
    return 0 if server.started else STARTUP_FAILURE


def served_app() -> FastAPI:
    """The app ``keeper serve`` runs: once its shutdown begins, the process
    ends within ``SHUTDOWN_MARGIN_SECONDS`` whatever still runs."""
    app = create_app()
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                exit_later(SHUTDOWN_MARGIN_SECONDS, signal.SIGTERM)

    app.router.lifespan_context = lifespan
    return app


class _Server(uvicorn.Server):
    """uvicorn's server, with a deadline from the first SIGTERM or SIGINT."""

    def __init__(self, config: uvicorn.Config, *, deadline: float) -> None:
        super().__init__(config)
        self.deadline = deadline
        self._armed = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:
            # A second SIGTERM ends keeper at once (as a second Ctrl+C
            # does), and so can the deadline below, from another thread.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not self._armed:
            self._armed = True
            exit_later(self.deadline, sig)


def exit_later(seconds: float, signum: int) -> None:
    """End this process ``seconds`` from now, unless it ends first."""

    def expire() -> None:
        time.sleep(seconds)
        busy = sorted(
            t.name for t in threading.enumerate() if t is not threading.current_thread()
        )
        log.error(
            "keeper did not stop within %g s of the signal; ending it now "
            "(threads still running: %s)",
            seconds,
            ", ".join(busy) or "none",
        )
        for stream in (sys.stderr, sys.stdout):
            with contextlib.suppress(Exception):
                stream.flush()
        if signal.getsignal(signum) == signal.SIG_DFL:
            # Ends the process as the signal would have: the same status as
            # a clean stop.
            os.kill(os.getpid(), signum)
            time.sleep(1)
        os._exit(128 + signum)

    threading.Thread(target=expire, name="keeper-exit-deadline", daemon=True).start()
