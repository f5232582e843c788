"""CPU seconds each process spent during a run, from /proc (Linux).

On a small machine the client, keeper, the S3 server and the counting proxy
share the same cores; their CPU time next to the wall time tells whether a
run waited on the network or on a busy core, and on whom.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of ``pid`` so far, or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are fixed.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def child_listening_on(port: int) -> int | None:
    """Our child process whose command line names ``port`` (``-p PORT``,
    ``--addr HOST:PORT``): how we find the S3 server the test helpers
    started without handing us its process."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        wanted = (str(port).encode(), f":{port}".encode())
        if parent == me and any(a == wanted[0] or a.endswith(wanted[1]) for a in args):
            return int(entry.name)
    return None


class CpuMeter:
    """CPU seconds between ``start`` and ``stop``: the client (children we
    waited for meanwhile), named server processes, and this process (the
    counting proxies run in its threads)."""

    def __init__(self, servers: dict[str, int | None]) -> None:
        self.servers = {name: pid for name, pid in servers.items() if pid}
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        now = {
            "client": children.ru_utime + children.ru_stime,
            "proxy": time.process_time(),
        }
        for name, pid in self.servers.items():
            value = cpu_seconds(pid)
            if value is not None:
                now[name] = value
        return now

    def start(self) -> CpuMeter:
        self._start = self._now()
        return self

    def stop(self) -> dict[str, float]:
        end = self._now()
        return {
            name: round(end[name] - self._start[name], 2)
            for name in end
            if name in self._start
        }
