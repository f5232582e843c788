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

Requests whose target is in absolute form (``GET http://host/path``) are
taken as RFC 9112 §3.2.2 has an origin server take them: the path is the
path and the host the Host; and a request head larger than
``MAX_REQUEST_HEAD_BYTES`` is refused with 431 as it arrives, before it is
parsed whole (:class:`KeeperProtocol`).

The exit status says why keeper ended: killed by the signal it was sent
(what service managers expect, and what uvicorn does after a clean stop),
``STARTUP_FAILURE`` (3) when it could not start, 1 on any other error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
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
from keeper.domain.limits import MAX_REQUEST_HEAD_BYTES, SHUTDOWN_MARGIN_SECONDS

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
        "http": PROTOCOL,
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


#: ``scheme://authority`` and the rest of a request target in absolute form.
_ABSOLUTE_FORM = re.compile(rb"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)(.*)$", re.S)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
    PROTOCOL: Any = "auto"
else:

    class KeeperProtocol(HttpToolsProtocol):
        """uvicorn's HTTP/1.1 protocol, with two changes.

        - A target in absolute form (``GET http://plain.docs.test/x.html``)
          is made a path and a Host. uvicorn keeps such a target's path and
          drops its host, so keeper would answer with the site the Host
          header names: nginx and Varnish answer with the site the target
          names, as RFC 9112 §3.2.2 asks. Only a request with one Host
          header has it replaced; with none or several it stays a request
          keeper refuses (400).
        - A request head is bounded as it arrives. The parser keeps a
          header's bytes until the header ends, so a 16 MB header would be
          held whole (and many of them at once) before any of keeper's
          checks saw it.
        """

        _head_bytes = 0
        _in_head = True

        def on_message_begin(self) -> None:
            self._head_bytes, self._in_head = 0, True
            super().on_message_begin()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self._in_head or self.transport.is_closing():
                return
            # Still in the head after these bytes: all of them were head.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
                self._refuse_head()

        def _refuse_head(self) -> None:
            msg = (
                f"the request line and headers take more than "
                f"{MAX_REQUEST_HEAD_BYTES} bytes"
            ).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(msg)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + msg
            )
            self.transport.close()

        def on_headers_complete(self) -> None:
            self._in_head = False
            found = _ABSOLUTE_FORM.match(self.url)
            if found is not None:
                authority, rest = found.group(1), found.group(2)
                self.url = rest if rest.startswith(b"/") else b"/" + rest
                hosts = [
                    i for i, (name, _) in enumerate(self.headers) if name == b"host"
                ]
                if len(hosts) == 1:
                    self.headers[hosts[0]] = (b"host", authority)
            super().on_headers_complete()

    PROTOCOL = KeeperProtocol


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
