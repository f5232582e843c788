"""What the upload benchmark measured, the table it prints and its JSON."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Run:
    """One timed run of one tool."""

    seconds: float
    #: Client → servers bytes at the TCP level (None without the proxy).
    sent: int | None = None
    received: int | None = None
    #: Keeper ↔ store bytes (both ways) while the run lasted.
    keeper_store: int | None = None
    files_sent: int | None = None
    phases: dict[str, float] = field(default_factory=dict)
    #: CPU seconds during the run: client, keeper, store (the S3 server),
    #: proxy (the counting forwarders).
    cpu: dict[str, float] = field(default_factory=dict)
    #: Peak resident set size, MB: the client's (``ru_maxrss`` of the
    #: process, from ``wait4``) and keeper's (``VmHWM`` read right after the
    #: run, reset before it when Linux allows; else since keeper started).
    peak_rss_client: float | None = None
    peak_rss_keeper: float | None = None


@dataclass
class Measurement:
    """The runs of one tool: through the counting proxy (bytes) and, unless
    ``--proxy-only``, without it (times: the proxy costs CPU on a small
    machine, so wall times, phases and CPU come from the direct runs when
    there are any)."""

    name: str
    label: str
    store: str
    proxied: list[Run] = field(default_factory=list)
    direct: list[Run] = field(default_factory=list)
    error: str | None = None
    #: False where there is no S3 traffic to count (the filesystem store):
    #: its runs are all without the proxy, once per round.
    counted: bool = True

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.proxied or self.direct)

    @property
    def timed(self) -> list[Run]:
        return self.direct or self.proxied

    @property
    def seconds(self) -> float | None:
        return median([r.seconds for r in self.timed])

    @property
    def proxied_seconds(self) -> float | None:
        return median([r.seconds for r in self.proxied])

    @property
    def sent(self) -> float | None:
        return median([r.sent for r in self.proxied if r.sent is not None])

    @property
    def keeper_store(self) -> float | None:
        return median(
            [r.keeper_store for r in self.proxied if r.keeper_store is not None]
        )

    @property
    def files_sent(self) -> float | None:
        runs = self.proxied + self.direct
        return median([r.files_sent for r in runs if r.files_sent is not None])

    def phase(self, name: str) -> float | None:
        return median([r.phases[name] for r in self.timed if name in r.phases])

    def cpu(self, name: str) -> float | None:
        return median([r.cpu[name] for r in self.timed if name in r.cpu])

    @property
    def peak_rss_client(self) -> float | None:
        return median([r.peak_rss_client for r in self.timed if r.peak_rss_client])

    @property
    def peak_rss_keeper(self) -> float | None:
        return median([r.peak_rss_keeper for r in self.timed if r.peak_rss_keeper])

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "store": self.store,
            "seconds": self.seconds,
            "proxied_seconds": self.proxied_seconds,
            "sent_bytes": self.sent,
            "keeper_store_bytes": self.keeper_store,
            "peak_rss_client_mb": self.peak_rss_client,
            "peak_rss_keeper_mb": self.peak_rss_keeper,
            "error": self.error,
            "proxied_runs": [asdict(r) for r in self.proxied],
            "direct_runs": [asdict(r) for r in self.direct],
        }


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Growth:
    """The bytes a product's store holds after one full build and after
    ``builds`` more, each with a different 1% of the files changed."""

    store: str
    #: What was counted: the bucket's ``sites/`` or the storage folder.
    where: str
    builds: int
    first_objects: int | None = None
    first_bytes: int | None = None
    after_objects: int | None = None
    after_bytes: int | None = None
    #: Bytes after all builds by the first folder under the product
    #: (``_objects``, ``_manifests``, ``_meta`` …).
    after_folders: dict[str, int] = field(default_factory=dict)
    full_seconds: float | None = None
    #: Wall time of each 1%-changed upload.
    seconds: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.error or not self.first_bytes or self.after_bytes is None:
            return None
        return self.after_bytes / self.first_bytes

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class Report:
    files: int
    size: int
    folders: int
    repeat: int
    load_before: float
    results: dict[str, Measurement]
    sweep: dict[int, Measurement]
    #: ``ltd upload --help``: interpreter start-up and imports.
    startup: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    #: Store growth over ``storage-10``'s builds, by store.
    growth: dict[str, Growth] = field(default_factory=dict)
    #: ``--large``: the large site (files, bytes, folders) and its runs.
    large_site: dict[str, int] | None = None
    large: dict[str, Measurement] = field(default_factory=dict)

    def seconds(self, name: str) -> float | None:
        m = self.results.get(name)
        return m.seconds if m and m.ok else None

    @property
    def has_direct(self) -> bool:
        return any(m.direct for m in self.results.values() if m.counted)


@dataclass
class Target:
    name: str
    value: float | None
    ok: bool | None
    detail: str


#: The targets of DESIGN.md's upload section and issue 13.
S5CMD_LIMIT = 1.25
CONVEYOR_SPEEDUP = 5.0
CHANGED_SHARE = 0.10
GROWTH_LIMIT = 1.2
#: Builds after the first in the storage growth measurement.
GROWTH_BUILDS = 10


def targets(report: Report) -> list[Target]:
    secs = report.seconds
    found: list[Target] = []
    ltd, s5 = secs("ltd"), secs("s5cmd")
    ratio = ltd / s5 if ltd and s5 else None
    found.append(
        Target(
            f"full ltd upload ≤ {S5CMD_LIMIT}× s5cmd",
            ratio,
            None if ratio is None else ratio <= S5CMD_LIMIT,
            f"{ratio:.2f}× s5cmd" if ratio else "not measured",
        )
    )
    for full, old, where in (
        ("ltd", "ltd-conveyor", "rclone"),
        ("ltd-moto", "ltd-conveyor-moto", "moto"),
    ):
        if full not in report.results and old not in report.results:
            continue
        new_s, old_s = secs(full), secs(old)
        speedup = old_s / new_s if new_s and old_s else None
        found.append(
            Target(
                f"≥ {CONVEYOR_SPEEDUP:.0f}× faster than ltd-conveyor 0.8 ({where})",
                speedup,
                None if speedup is None else speedup >= CONVEYOR_SPEEDUP,
                f"{speedup:.1f}× faster" if speedup else _why(report, old, full),
            )
        )
    for full, pct_name, where in (
        ("ltd", "ltd-1pct", "rclone"),
        ("ltd-fs", "ltd-fs-1pct", "filesystem"),
    ):
        full_s, pct = secs(full), secs(pct_name)
        share = pct / full_s if pct and full_s else None
        found.append(
            Target(
                f"1%-changed upload ≤ {CHANGED_SHARE:.0%} of full ({where})",
                share,
                None if share is None else share <= CHANGED_SHARE,
                f"{share:.2f}× full" if share else _why(report, full, pct_name),
            )
        )
    for where in ("rclone", "filesystem"):
        growth = report.growth.get(where)
        ratio = growth.ratio if growth else None
        if ratio is not None:
            detail = f"{ratio:.2f}× one build"
        elif growth and growth.error:
            detail = f"n/a: {growth.error}"
        else:
            detail = "not measured"
        found.append(
            Target(
                f"store after {GROWTH_BUILDS} × 1% builds ≤ {GROWTH_LIMIT}× "
                f"one build ({where})",
                ratio,
                None if ratio is None else ratio <= GROWTH_LIMIT,
                detail,
            )
        )
    return found


def _why(report: Report, *names: str) -> str:
    for name in names:
        m = report.results.get(name)
        if m and m.error:
            return f"{name} n/a: {m.error}"
    return "not measured"


def render(report: Report) -> str:
    lines = [
        f"site: {report.files} files, {report.size / 1e6:.1f} MB, "
        f"{report.folders} folders; {report.repeat} run(s) each, median shown; "
        f"{os.cpu_count()} CPUs, load average {report.load_before:.2f} at start",
        "",
    ]
    lines += _results_table(report)
    heading = "targets:"
    if any(m.ok for m in report.results.values() if m.counted):
        how = "without the proxy" if report.has_direct else "through the proxy"
        heading = f"targets (S3 runs on wall times {how}; the filesystem store's "
        heading += "have no proxy):"
    lines += ["", heading]
    for t in targets(report):
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[t.ok]
        lines.append(f"  {verdict}  {t.name}: {t.detail}")
    lines += _growth_table(report)
    lines += _large_table(report)
    lines += _phases_table(report)
    lines += _cpu_table(report)
    lines += _sweep_table(report)
    return "\n".join(lines)


def _results_table(report: Report) -> list[str]:
    both = report.has_direct and any(m.proxied for m in report.results.values())
    header = ["tool", "store", "wall s"]
    if both:
        header.append("via proxy s")
    header += ["MB sent", "files/s", "÷ s5cmd", "÷ ltd-conveyor"]
    rows = [header]
    notes = []
    for m in report.results.values():
        secs = m.seconds
        if not m.ok or secs is None:
            rows.append([m.label, m.store, "n/a"] + [""] * (len(header) - 3))
            notes.append(f"  n/a: {m.label} [{m.store}]: {m.error or 'no run'}")
            continue
        # Ratios compare runs on the same server only.
        moto = m.store == "moto"
        rclone = m.store.startswith("rclone")
        s5 = report.seconds("s5cmd") if rclone else None
        old = None
        if moto or rclone:
            old = report.seconds("ltd-conveyor-moto" if moto else "ltd-conveyor")
        row = [m.label, m.store, f"{secs:.2f}"]
        if both:
            row.append(_num(m.proxied_seconds, ".2f"))
        row += [
            _num(m.sent / 1e6 if m.sent is not None else None, ".1f"),
            f"{report.files / secs:.0f}",
            f"{secs / s5:.2f}" if s5 else "–",
            f"{secs / old:.3f}" if old else "–",
        ]
        rows.append(row)
    return table(rows) + notes


def _growth_table(report: Report) -> list[str]:
    if not report.growth:
        return []
    rows = [
        [
            "store",
            "counted",
            "first build MB",
            "objects",
            f"after {GROWTH_BUILDS} × 1% MB",
            "objects",
            "÷ first",
            "full s",
            "1% s (median)",
        ]
    ]
    notes = []
    for g in report.growth.values():
        if g.error:
            rows.append([g.store, g.where, "n/a", *[""] * 6])
            notes.append(f"  n/a: storage growth [{g.store}]: {g.error}")
            continue
        mb = [None if b is None else b / 1e6 for b in (g.first_bytes, g.after_bytes)]
        rows.append(
            [
                g.store,
                g.where,
                _num(mb[0], ".1f"),
                _num(g.first_objects, ".0f"),
                _num(mb[1], ".1f"),
                _num(g.after_objects, ".0f"),
                _num(g.ratio, ".2f"),
                _num(g.full_seconds, ".2f"),
                _num(median(g.seconds), ".2f"),
            ]
        )
        if g.after_folders:
            parts = ", ".join(
                f"{name} {size / 1e6:.1f}"
                for name, size in sorted(g.after_folders.items(), key=lambda kv: -kv[1])
            )
            notes.append(f"  {g.store}, MB after by folder: {parts}")
    return [
        "",
        f"bytes the product's store holds: one full build, then {GROWTH_BUILDS} "
        "builds each with a different 1% changed (everything counted: objects, "
        "manifests, generated pages; hard links once):",
        *table(rows),
        *notes,
    ]


def _large_table(report: Report) -> list[str]:
    if report.large_site is None:
        return []
    site = report.large_site
    rows = [
        [
            "run",
            "store",
            "wall s",
            "files/s",
            "÷ full",
            "files sent",
            "ltd peak RSS MB",
            "keeper peak RSS MB",
        ]
    ]
    notes = []
    for m in report.large.values():
        secs = m.seconds
        if not m.ok or secs is None:
            rows.append([m.label, m.store, "n/a", *[""] * 5])
            notes.append(f"  n/a: {m.label} [{m.store}]: {m.error or 'no run'}")
            continue
        first = report.large.get(m.name.removesuffix("-1pct"))
        full = first.seconds if first and first.ok else None
        rows.append(
            [
                m.label,
                m.store,
                f"{secs:.2f}",
                f"{site['files'] / secs:.0f}",
                f"{secs / full:.2f}" if full else "–",
                _num(m.files_sent, ".0f"),
                _num(m.peak_rss_client, ".0f"),
                _num(m.peak_rss_keeper, ".0f"),
            ]
        )
    return [
        "",
        f"large site: {site['files']} files, {site['bytes'] / 1e6:.1f} MB, "
        f"{site['folders']} folders (median of each; a fresh keeper per full + 1% "
        "pair, no proxy):",
        *table(rows),
        *notes,
    ]


def _phases_table(report: Report) -> list[str]:
    phased = [
        m
        for m in [
            *report.results.values(),
            *report.large.values(),
            *report.sweep.values(),
        ]
        if m.ok and m.timed[0].phases
    ]
    if not phased:
        return []
    names = ["start+scan", "register", "transfer", "confirm"]
    rows = [["ltd upload run", "store", *names, "files sent", "keeper↔store MB"]]
    for m in phased:
        store_mb = m.keeper_store
        rows.append(
            [
                m.label,
                m.store,
                *[_num(m.phase(n), ".2f") for n in names],
                _num(m.files_sent, ".0f"),
                _num(store_mb / 1e6 if store_mb is not None else None, ".1f"),
            ]
        )
    lines = ["", "where ltd upload's time goes (seconds, median):"]
    lines += table(rows)
    if report.startup is not None:
        lines.append(
            f"start+scan includes about {report.startup:.2f}s of interpreter "
            "start-up and imports (what `ltd upload --help` takes)"
        )
    return lines


def _cpu_table(report: Report) -> list[str]:
    measured = [
        m
        for m in [
            *report.results.values(),
            *report.large.values(),
            *report.sweep.values(),
        ]
        if m.ok and m.timed[0].cpu
    ]
    if not measured:
        return []
    names = ["client", "keeper", "store"]
    if any(not m.direct for m in measured):
        names.append("proxy")  # timed through it: its CPU counts too
    rows = [["run", "store", "wall s", *names, "busy cores"]]
    for m in measured:
        secs = m.seconds or 0.0
        used = [m.cpu(n) for n in names]
        total = sum(u for u in used if u is not None)
        rows.append(
            [
                m.label,
                m.store,
                f"{secs:.2f}",
                *[_num(u, ".2f") for u in used],
                f"{total / secs:.2f}" if secs else "–",
            ]
        )
    return [
        "",
        f"CPU seconds during each run ({os.cpu_count()} cores; busy cores = "
        "all CPU seconds over wall time):",
        *table(rows),
    ]


def _sweep_table(report: Report) -> list[str]:
    if not report.sweep:
        return []
    rows = [["concurrency", "wall s", "transfer s", "files/s", "MB/s"]]
    for level, m in report.sweep.items():
        secs = m.seconds
        if not m.ok or secs is None:
            rows.append([str(level), "n/a", "", "", m.error or ""])
            continue
        rows.append(
            [
                str(level),
                f"{secs:.2f}",
                _num(m.phase("transfer"), ".2f"),
                f"{report.files / secs:.0f}",
                f"{report.size / 1e6 / secs:.1f}",
            ]
        )
    return ["", "ltd upload --concurrency N, full upload to rclone:", *table(rows)]


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def table(rows: list[list[str]]) -> list[str]:
    """Columns padded to fit; text columns left, numbers right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i < 2 or n == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def as_json(report: Report) -> dict[str, Any]:
    return {
        "options": report.options,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_before": report.load_before,
            "load_after": os.getloadavg()[0],
        },
        "versions": report.versions,
        "site": {
            "files": report.files,
            "bytes": report.size,
            "folders": report.folders,
        },
        "ltd_startup_seconds": report.startup,
        "results": [m.as_json() for m in report.results.values()],
        "sweep": [m.as_json() for m in report.sweep.values()],
        "growth": [g.as_json() for g in report.growth.values()],
        "large": None
        if report.large_site is None
        else {
            "site": report.large_site,
            "results": [m.as_json() for m in report.large.values()],
        },
        "targets": [asdict(t) for t in targets(report)],
    }
