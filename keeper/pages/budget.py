"""A hard budget for rendering an org's own templates.

Org admins write those templates, and Jinja's sandbox stops them reaching
Python but not looping (``range`` inside ``range``), recursing through
macros or formatting a gigabyte string. A thread cannot be interrupted, so
such a template would pin a CPU of keeper, and its memory, for good.

So each page of an org's templates renders in a worker process
(:mod:`keeper.pages.worker`) that keeper can kill: the worker limits its own
address space (``RLIMIT_AS``) and, for each page, its CPU time (a profiling
timer after which the kernel ends it); keeper waits for the page by the
clock and kills the worker when the wait is over. A page over budget
raises :class:`BudgetExceeded` naming the template and the budget, and the
worker is replaced. Keeper's own templates are trusted and still render in
the calling thread, so orgs without templates of their own pay nothing.

Workers are long-lived (started on first use, about 0.13 s each) and talk
over a socket pair: the request is pickled (keeper trusts what it sends),
the answer is raw page bytes or a small JSON error, never a pickle, since
the worker runs code an org admin wrote.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from keeper.domain import limits
from keeper.pages.wire import ERROR, PAGE, READY, SPENT, rebuild_error

if TYPE_CHECKING:
    from keeper.config import Settings

log = logging.getLogger(__name__)

#: Seconds a new worker may take to start (import Jinja, set its limits).
START_SECONDS = 20.0


@dataclass(frozen=True)
class Budget:
    """What one page of an org's templates may take."""

    cpu_seconds: int = limits.TEMPLATE_CPU_SECONDS
    wall_seconds: float = limits.TEMPLATE_WALL_SECONDS
    memory_bytes: int = limits.TEMPLATE_MEMORY_BYTES
    page_bytes: int = limits.TEMPLATE_PAGE_BYTES
    workers: int = limits.TEMPLATE_WORKERS

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(
            cpu_seconds=settings.template_cpu_seconds,
            wall_seconds=settings.template_wall_seconds,
            memory_bytes=settings.template_memory_mib * limits.MIB,
            workers=settings.template_workers,
        )

    def describe(self, what: str) -> str:
        """The budget ``what`` (``cpu``, ``time``, ``memory``, ``output``)
        in words."""
        return {
            "cpu": f"used more than {self.cpu_seconds} s of CPU time",
            "time": f"took more than {self.wall_seconds:g} s",
            "memory": (
                f"needed more than {self.memory_bytes // limits.MIB} MiB of memory"
            ),
            "output": f"made a page over {self.page_bytes // limits.MIB} MiB",
        }.get(what, what)


class BudgetExceeded(Exception):
    """A page of an org's templates took more than its budget."""

    def __init__(self, template: str, what: str, spent: str) -> None:
        super().__init__(f"{template} exceeded its render budget: {spent}")
        self.template = template
        #: ``cpu``, ``time``, ``memory``, ``output`` or ``crash``.
        self.what = what
        self.spent = spent


class RendererUnavailable(Exception):
    """No worker could render: keeper is shutting down, or a worker would
    not start. Not the template's fault: keeper's own pages do not replace
    the org's in the store for it."""


def configure(budget: Budget) -> None:
    """Render with ``budget`` from now on (each keeper app sets its own)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool.budget == budget:
            return
        old, _pool = _pool, _Pool(budget)
    if old is not None:
        old.close()


def render(
    overrides: Mapping[str, str],
    pages: Sequence[tuple[str, Mapping[str, Any]]],
    context: Mapping[str, Any],
) -> list[bytes]:
    """Render each ``(template, extra)`` of ``pages`` with ``context`` and
    ``extra`` in a worker, within the budget; UTF-8 bytes, in order.

    Raises :class:`BudgetExceeded`, :class:`RendererUnavailable`, or the
    error the template raised (Jinja's own errors keep their class)."""
    shared = pickle.dumps((tuple(sorted(overrides.items())), dict(context)))
    pool = _get_pool()
    return [pool.render(template, dict(extra), shared) for template, extra in pages]


def stop_workers() -> None:
    """Kill every worker now: renders in flight raise
    :class:`RendererUnavailable`. Later renders start new workers."""
    with _pool_lock:
        pool = _pool
    if pool is not None:
        pool.stop()


def digest(overrides: Mapping[str, str]) -> str:
    """Names one set of org templates."""
    h = hashlib.sha256()
    for name, source in sorted(overrides.items()):
        h.update(f"{len(name)}:{name}{len(source)}:".encode())
        h.update(source.encode())
    return h.hexdigest()


# -- giving up on a template set ----------------------------------------------


class Strikes:
    """Which sets of org templates exceeded their budget, and on what.

    A set that did so on a subject (a product's pages, its 404 page) is not
    tried on it again, and one that did so on :data:`TEMPLATE_STRIKES`
    subjects is not tried at all, until the verdict expires: a bad template
    costs its budget a few times, not once per product per publish.
    """

    def __init__(
        self,
        *,
        strikes: int = limits.TEMPLATE_STRIKES,
        hold_for: float = limits.TEMPLATE_STRIKE_SECONDS,
        sets: int = 1024,
    ) -> None:
        self.strikes = strikes
        self.hold_for = hold_for
        self.sets = sets
        self._found: OrderedDict[str, tuple[float, set[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, overrides: Mapping[str, str], subject: str) -> None:
        key = digest(overrides)
        with self._lock:
            until, subjects = self._current(key) or (
                time.monotonic() + self.hold_for,
                set(),
            )
            subjects.add(subject)
            self._found[key] = (until, subjects)
            self._found.move_to_end(key)
            while len(self._found) > self.sets:
                self._found.popitem(last=False)

    def given_up(self, overrides: Mapping[str, str], subject: str) -> bool:
        with self._lock:
            found = self._current(digest(overrides))
        if found is None:
            return False
        subjects = found[1]
        return subject in subjects or len(subjects) >= self.strikes

    def clear(self) -> None:
        with self._lock:
            self._found.clear()

    def _current(self, key: str) -> tuple[float, set[str]] | None:
        found = self._found.get(key)
        if found is not None and found[0] <= time.monotonic():
            del self._found[key]
            return None
        return found


#: This process's verdicts.
strikes = Strikes()


# -- workers --------------------------------------------------------------------


class _Worker:
    """One worker process and keeper's end of its socket."""

    def __init__(self, budget: Budget) -> None:
        ours, theirs = socket.socketpair()
        boot = (
            "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
            "from keeper.pages.worker import main; main(sys.argv[2:])"
        )
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",  # no PYTHON* variables, no user site, no cwd
                    "-c",
                    boot,
                    json.dumps(sys.path),
                    str(theirs.fileno()),
                    str(budget.memory_bytes),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                # Should a template ever get out of the sandbox, it finds no
                # secrets in its environment and no open file but its socket.
                env={},
                cwd="/",
            )
        except OSError as exc:
            ours.close()
            raise RendererUnavailable(f"cannot start a render worker: {exc}") from exc
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        #: Set by :meth:`_Pool.stop`: its death is then not the template's.
        self.stopped = False
        try:
            ready = self.conn.poll(START_SECONDS) and self._recv(16) == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise RendererUnavailable("a render worker did not start")

    def alive(self) -> bool:
        return not self.conn.closed and self.process.poll() is None

    def ask(
        self, budget: Budget, template: str, header: bytes, shared: bytes
    ) -> bytes | Exception:
        """The page, or the error the template raised; raises when the
        budget is spent or the worker is gone."""
        deadline = time.monotonic() + budget.wall_seconds
        try:
            self.conn.send_bytes(header)
            self.conn.send_bytes(shared)
        except OSError:
            raise self._died(budget, template) from None
        if not self.conn.poll(max(0.0, deadline - time.monotonic())):
            self.close()
            if self.stopped:
                raise RendererUnavailable("keeper is shutting down")
            raise BudgetExceeded(template, "time", budget.describe("time"))
        try:
            # A worker cannot send keeper more than a page's budget.
            frame = self._recv(budget.page_bytes + 1)
        except (EOFError, OSError):
            raise self._died(budget, template) from None
        kind, body = frame[:1], frame[1:]
        if kind == PAGE:
            return body
        if kind == SPENT:
            what = json.loads(body)["what"]
            raise BudgetExceeded(template, what, budget.describe(what))
        if kind == ERROR:
            return rebuild_error(json.loads(body))
        self.close()
        raise RendererUnavailable(f"a render worker answered {kind!r}")

    def end(self) -> None:
        """Kill the process (safe from any thread: the socket stays open
        for whoever is waiting on it, and sees it close)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """End the process and close keeper's end (only by the thread that
        holds the worker)."""
        self.end()
        self.conn.close()

    def _recv(self, most: int) -> bytes:
        return self.conn.recv_bytes(most)

    def _died(self, budget: Budget, template: str) -> Exception:
        self.close()
        code = self.process.returncode
        if self.stopped:
            return RendererUnavailable("keeper is shutting down")
        if code in (-signal.SIGPROF, -signal.SIGXCPU):
            return BudgetExceeded(template, "cpu", budget.describe("cpu"))
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return BudgetExceeded(
            template, "crash", f"it stopped its render worker ({how})"
        )


class _Pool:
    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._slots = threading.BoundedSemaphore(budget.workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    def render(self, template: str, extra: dict[str, Any], shared: bytes) -> bytes:
        header = pickle.dumps(
            (template, extra, self.budget.cpu_seconds, self.budget.page_bytes)
        )
        with self._slots:
            worker = self._take()
            try:
                answer = worker.ask(self.budget, template, header, shared)
            except BaseException:
                self._drop(worker)
                raise
            # A template's own error leaves its worker fit for the next page.
            self._give_back(worker)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stop(self) -> None:
        with self._lock:
            idle, busy = self._idle, list(self._busy)
            self._idle = []
        for worker in idle:
            worker.close()
        for worker in busy:
            worker.stopped = True
            worker.end()

    def close(self) -> None:
        """Stop idle workers; busy ones stop when their page is done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                worker.close()  # reaps it
        worker = _Worker(self.budget)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if not self._closed and worker.alive():
                self._idle.append(worker)
                return
        worker.close()

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.close()


_pool: _Pool | None = None
_pool_lock = threading.Lock()
# Idle workers would leave by themselves once keeper's end of their socket
# closes; a looping one only when its budget runs out.
atexit.register(stop_workers)


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool(_default_budget())
        return _pool


def _default_budget() -> Budget:
    # Commands that never built an app (``keeper pages refresh``) still
    # honour KEEPER_TEMPLATE_* settings.
    from keeper.config import get_settings

    return Budget.from_settings(get_settings())
