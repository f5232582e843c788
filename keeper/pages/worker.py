"""The process that renders an org's own templates (see
:mod:`keeper.pages.budget`, which starts it and holds the other end).

It limits itself before it takes any request: its address space for good,
and for each page its CPU time. A profiling timer (``ITIMER_PROF``, which
counts this process's CPU time to the microsecond) is left to its default
action, so the kernel ends the worker with SIGPROF when the page's budget is
spent, even inside one long C call; ``RLIMIT_CPU`` (whole seconds, SIGXCPU)
backs it up. It renders pages one at a time until keeper closes the socket.
"""

from __future__ import annotations

import json
import math
import pickle
import resource
import signal
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from keeper.pages.render import render_template
from keeper.pages.wire import ERROR, PAGE, READY, SPENT, describe_error


def main(argv: Sequence[str]) -> None:
    fd, memory_bytes = int(argv[0]), int(argv[1])
    # Ctrl+C in a terminal reaches the whole process group: keeper decides
    # when its workers stop. A worker that dies leaves no core file.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn = Connection(fd)
    conn.send_bytes(READY)
    # A product's pages share their data: read it once, not once a page.
    last: tuple[bytes, Any] = (b"", None)
    while True:
        try:
            header, shared = conn.recv_bytes(), conn.recv_bytes()
        except EOFError:  # keeper is gone or done with this worker
            return
        template, extra, cpu_seconds, page_bytes = pickle.loads(header)
        if shared != last[0]:
            last = (shared, pickle.loads(shared))
        overrides, context = last[1]
        _limit_cpu(cpu_seconds)
        try:
            html = render_template(overrides, template, {**context, **extra})
            page = html.encode()
            del html
            signal.setitimer(signal.ITIMER_PROF, 0)
        except MemoryError:
            # Whatever held the memory is gone with the frames above, but
            # a fresh worker is the safer next step.
            _send(conn, SPENT, json.dumps({"what": "memory"}).encode())
            return
        except Exception as exc:  # noqa: BLE001 - any error is the template's
            signal.setitimer(signal.ITIMER_PROF, 0)
            _send(conn, ERROR, json.dumps(describe_error(exc)).encode())
            continue
        if len(page) > page_bytes:
            _send(conn, SPENT, json.dumps({"what": "output"}).encode())
        else:
            _send(conn, PAGE, page)


def _limit_cpu(seconds: int) -> None:
    """Let the next page use ``seconds`` of CPU from now."""
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    # The backstop counts whole seconds: it allows up to two more.
    used = math.ceil(time.process_time())
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _send(conn: Connection, kind: bytes, body: bytes) -> None:
    conn.send_bytes(kind + body)
