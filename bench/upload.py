"""Upload benchmark: ``ltd upload`` against s5cmd, ``aws s3 sync`` and the
released ltd-conveyor 0.8, on the same generated site and the same local
S3 server, in one run; ``ltd upload`` to keeper's filesystem store, the
1%-changed uploads, the store's growth over ten 1% builds and (``--large``)
a 50,000-file site.

    .venv/bin/python -m bench.upload                     # everything, full size
    .venv/bin/python -m bench.upload --only ltd s5cmd    # a subset
    .venv/bin/python -m bench.upload --sweep-concurrency # also 8…128 streams
    .venv/bin/python -m bench.upload --large --only ltd-fs  # and the large site

See bench/README.md for what is measured and how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import boto3
import httpx

from bench import tools
from bench.cpu import CpuMeter, child_listening_on
from bench.profiling import summarize
from bench.proxy import CountingProxy, Traffic
from bench.report import (
    GROWTH_BUILDS,
    Growth,
    Measurement,
    Report,
    Run,
    as_json,
    render,
)
from bench.site import GeneratedSite, generate_site
from tests.servers import (
    S3Endpoint,
    free_port,
    moto_s3_server,
    rclone_s3_server,
    running_server,
)

MEASUREMENTS = (
    "s5cmd",
    "aws",
    "ltd",
    "ltd-1pct",
    "ltd-fs",
    "ltd-fs-1pct",
    "storage-10",
    "ltd-conveyor",
    "ltd-moto",
    "ltd-conveyor-moto",
)
LABELS = {
    "s5cmd": "s5cmd cp",
    "aws": "aws s3 sync",
    "ltd": "ltd upload (full)",
    "ltd-1pct": "ltd upload (1% changed)",
    "ltd-fs": "ltd upload (full)",
    "ltd-fs-1pct": "ltd upload (1% changed)",
    "ltd-conveyor": "ltd-conveyor 0.8",
    "ltd-moto": "ltd upload (full)",
    "ltd-conveyor-moto": "ltd-conveyor 0.8",
}
#: Not a row of the results table: a table of its own (``Growth``).
GROWTH = "storage-10"
#: keeper's own store: a folder (``KEEPER_STORAGE_URL=file://…``), uploads
#: through keeper's signed PUT URLs; no S3 server, no proxy.
FS = "fs"
STORE_LABELS = {FS: "filesystem"}
SWEEP_DEFAULT = (8, 16, 32, 64, 128)
BOOTSTRAP = "bench-bootstrap-token"
ORG, PRODUCT = "lsst", "pipelines"
API = f"/api/orgs/{ORG}/products/{PRODUCT}"
#: A run that takes longer than this is reported as n/a.
RUN_TIMEOUT = 1800.0
#: Variables of the machine running the benchmark that would change what a
#: client does (a CI runner's, an earlier ``ltd`` configuration, AWS
#: profiles): each client gets only what its run sets.
_FOREIGN = re.compile(
    r"^(CI|GITHUB_.*|GITLAB_CI|CI_.*|JENKINS_URL|BUILD_URL|GIT_.*|TRAVIS.*|"
    r"LTD_.*|AWS_.*|KEEPER_.*|S3_.*)$"
)


class RunFailed(RuntimeError):
    """A tool ran but did not do the whole upload; the message says why."""


# -- servers ------------------------------------------------------------------


@dataclass
class Store:
    """An S3 server, reached directly or through a counting proxy."""

    name: str
    endpoint: S3Endpoint
    proxy: CountingProxy
    root: Path | None  # rclone's folder (each bucket a sub-folder)
    pid: int | None = None
    _seq: int = 0

    def url(self, proxied: bool) -> str:
        return self.proxy.url if proxied else self.endpoint.endpoint_url

    @cached_property
    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.endpoint.access_key,
            aws_secret_access_key=self.endpoint.secret_key,
        )

    def new_bucket(self, tag: str) -> str:
        self._seq += 1
        bucket = f"bench-{self._seq:03d}-{tag}"[:63].rstrip("-")
        self.client.create_bucket(Bucket=bucket)
        return bucket

    def objects(self, bucket: str, prefix: str) -> tuple[int, int]:
        """(count, bytes) of the objects under ``prefix``."""
        count = size = 0
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                count += 1
                size += item["Size"]
        return count, size

    def drop(self, bucket: str) -> None:
        """Free the space a finished run used (outside any timing)."""
        if self.root is not None:
            shutil.rmtree(self.root / bucket, ignore_errors=True)
            return
        s3 = self.client
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket)


@dataclass
class Keeper:
    url: str
    direct_url: str
    token: str
    proxy: CountingProxy | None
    process: subprocess.Popen[bytes]
    #: Where keeper stores: an S3 bucket (under ``sites/``) or a folder.
    bucket: str | None = None
    folder: Path | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.direct_url,
            headers={"Authorization": f"Bearer {BOOTSTRAP}"},
            timeout=60,
        )


# -- running clients ----------------------------------------------------------


@dataclass
class Finished:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    #: (seconds since start, line) for each stderr line, as it arrived.
    lines: list[tuple[float, str]]
    #: The process's peak resident set size, KiB (``ru_maxrss``).
    max_rss: int | None = None

    def tail(self) -> str:
        return (self.stderr.strip() or self.stdout.strip())[-1500:]


def run_timed(
    command: Sequence[str | os.PathLike[str]],
    env: dict[str, str],
    *,
    timeout: float = RUN_TIMEOUT,
) -> Finished:
    """Run ``command`` and time it from start to exit; stderr lines are
    timestamped as they arrive, which gives ``ltd upload``'s phases."""
    lines: list[tuple[float, str]] = []
    out: list[str] = []
    started = time.monotonic()
    process = subprocess.Popen(
        [str(c) for c in command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None and process.stderr is not None

    def read_err(stream: Any = process.stderr) -> None:
        for line in stream:
            lines.append((time.monotonic() - started, line.rstrip("\n")))

    def read_out(stream: Any = process.stdout) -> None:
        out.append(stream.read())

    # Reaped with wait4 rather than Popen.wait for the child's rusage (its
    # peak RSS); a thread waits, so the exit is timed when it happens.
    exited: list[tuple[float, int, Any]] = []

    def reap() -> None:
        _, status, usage = os.wait4(process.pid, 0)
        exited.append((time.monotonic(), status, usage))

    readers = [threading.Thread(target=f, daemon=True) for f in (read_err, read_out)]
    for t in readers:
        t.start()
    reaper = threading.Thread(target=reap, daemon=True)
    reaper.start()
    reaper.join(timeout)
    if reaper.is_alive():
        # Not Popen.kill: it polls first, which could reap the process
        # under the reaper's wait4.
        os.kill(process.pid, signal.SIGKILL)
        reaper.join()
        process.returncode = -signal.SIGKILL
        raise RunFailed(f"still running after {timeout:.0f}s; stopped")
    ended, status, usage = exited[0]
    process.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join(10)
    return Finished(
        ended - started,
        process.returncode,
        "".join(out),
        "\n".join(line for _, line in lines),
        lines,
        usage.ru_maxrss,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _FOREIGN.match(k)}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _rss_mb(kib: int | None) -> float | None:
    return None if not kib else round(kib * 1024 / 1e6, 1)


def reset_peak_rss(pid: int) -> bool:
    """Reset ``pid``'s ``VmHWM`` to its current RSS (Linux ≥ 4.0, our own
    process); False if refused, and the peak then counts since it started."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_kib(pid: int) -> int | None:
    """``VmHWM`` of a running process: its peak RSS so far (or since the
    last :func:`reset_peak_rss`), KiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else None


def folder_usage(root: Path) -> tuple[int, int, dict[str, int]]:
    """(files, bytes, bytes by first folder under the product) under
    ``root``: each inode once, however many hard links name it."""
    seen: set[tuple[int, int]] = set()
    count = size = 0
    folders: dict[str, int] = {}
    for parent, _, names in os.walk(root):
        for name in names:
            path = Path(parent, name)
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            count += 1
            size += info.st_size
            folder = _product_folder(path.relative_to(root).as_posix())
            folders[folder] = folders.get(folder, 0) + info.st_size
    return count, size, folders


def _product_folder(key: str) -> str:
    """``_objects`` for ``lsst/pipelines/_objects/ab/ab…``; other keys by
    their folder."""
    parts = key.split("/")
    if parts[:2] == [ORG, PRODUCT] and len(parts) > 3:
        return parts[2]
    return "/".join(parts[:-1]) or "(top)"


# -- the benchmark ------------------------------------------------------------


@dataclass
class Options:
    files: int
    size_mb: float
    repeat: int
    only: list[str]
    sweep: list[int]
    proxy_only: bool
    json: Path | None
    seed: int
    workdir: Path | None
    keep: bool
    profile: Path | None
    large: bool = False
    large_files: int = 50_000
    large_size_mb: float = 500.0
    large_stores: list[str] = field(default_factory=lambda: [FS])


class Bench:
    def __init__(self, options: Options, workdir: Path, stack: ExitStack) -> None:
        self.options = options
        self.workdir = workdir
        self.stack = stack
        self.site: GeneratedSite
        self.stores: dict[str, Store] = {}
        self.results: dict[str, Measurement] = {}
        self.sweep: dict[int, Measurement] = {}
        self.growth: dict[str, Growth] = {}
        self.large_site: GeneratedSite | None = None
        self.large: dict[str, Measurement] = {}
        self.versions: dict[str, str] = {}
        self._keepers = 0

    # -- set-up -------------------------------------------------------------

    def generate(self) -> None:
        self.site = self._generate("site", self.options.files, self.options.size_mb)

    def _generate(self, folder: str, files: int, size_mb: float) -> GeneratedSite:
        started = time.monotonic()
        site = generate_site(
            self.workdir / folder,
            files=files,
            size=int(size_mb * 1e6),
            seed=self.options.seed,
        )
        log(
            f"generated {len(site.files)} files, "
            f"{site.total_size / 1e6:.1f} MB in {site.directories} "
            f"folders ({time.monotonic() - started:.1f}s)"
        )
        return site

    def store(self, name: str) -> Store:
        """The rclone or moto server, started on first use."""
        if name not in self.stores:
            if name == "rclone":
                root = self.workdir / "rclone" / "data"
                endpoint = self.stack.enter_context(rclone_s3_server(root))
                self.versions["rclone"] = tools.version_of(
                    [str(tools.rclone()), "version"]
                )
            else:
                root = None
                endpoint = self.stack.enter_context(moto_s3_server())
                import moto

                self.versions["moto"] = moto.__version__
            proxy = self.stack.enter_context(CountingProxy(endpoint.endpoint_url, name))
            port = int(endpoint.endpoint_url.rpartition(":")[2])
            pid = child_listening_on(port)
            self.stores[name] = Store(name, endpoint, proxy, root, pid)
        return self.stores[name]

    @contextmanager
    def keeper(
        self,
        store: Store | None,
        bucket: str | None,
        *,
        proxied: bool,
        relay_posts: bool = False,
    ) -> Iterator[Keeper]:
        """A fresh ``keeper serve`` (its own SQLite file) storing in
        ``bucket`` of ``store`` (or, with no store, in a folder of its own
        through its own signed PUT URLs), with the org, the product and an
        uploader token."""
        self._keepers += 1
        workdir = self.workdir / f"keeper-{self._keepers:02d}"
        workdir.mkdir(parents=True)
        port = free_port()
        direct_url = f"http://127.0.0.1:{port}"
        with ExitStack() as stack:
            proxy = None
            if proxied:
                proxy = stack.enter_context(CountingProxy(direct_url, "keeper"))
            url = proxy.url if proxy else direct_url
            folder = None
            if store is None:
                folder = workdir / "storage"
                storage = f"file://{folder}"
                s3_env = {}
            else:
                storage = (
                    f"s3://{bucket}/sites?endpoint_url={store.url(proxied)}"
                    "&region=us-east-1"
                )
                if store.name == "rclone":
                    # rclone refuses a body whose MD5 is not the signed one,
                    # as AWS S3 does: uploads may go straight to their
                    # objects (moto checks nothing, so never there).
                    storage += "&direct_uploads=true"
                s3_env = {
                    "AWS_ACCESS_KEY_ID": store.endpoint.access_key,
                    "AWS_SECRET_ACCESS_KEY": store.endpoint.secret_key,
                }
            if relay_posts:
                storage += "&presigned_post=false"
            env = clean_env(
                KEEPER_BOOTSTRAP_TOKEN=BOOTSTRAP,
                KEEPER_BASE_URL=url,
                KEEPER_DATABASE_URL=f"sqlite:///{workdir / 'keeper.sqlite3'}",
                KEEPER_STORAGE_URL=storage,
                KEEPER_COMPAT_ORG=ORG,
                **s3_env,
            )
            command = [
                str(tools.keeper()),
                *("serve", "--host", "127.0.0.1", "--port", str(port)),
            ]
            process = stack.enter_context(
                running_server(
                    command,
                    f"{direct_url}/api",
                    name="keeper",
                    env=env,
                    cwd=workdir,
                    timeout=60,
                )
            )
            token = _set_up_product(direct_url)
            yield Keeper(url, direct_url, token, proxy, process, bucket, folder)

    @contextmanager
    def product(
        self, store_name: str, *, proxied: bool, tag: str
    ) -> Iterator[tuple[Keeper, Store | None]]:
        """A fresh keeper on ``store_name`` (``fs``: its own folder, never
        proxied) with a fresh bucket; the bytes go afterwards."""
        store = None if store_name == FS else self.store(store_name)
        bucket = store.new_bucket(tag) if store else None
        folder = None
        try:
            with self.keeper(store, bucket, proxied=proxied and bool(store)) as keeper:
                folder = keeper.folder
                yield keeper, store
        finally:
            if store is not None and bucket is not None:
                store.drop(bucket)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def stored(keeper: Keeper, store: Store | None) -> tuple[int, int, dict[str, int]]:
        """(objects, bytes, bytes by folder) the product's store holds."""
        if keeper.folder is not None:
            return folder_usage(keeper.folder)
        assert store is not None and keeper.bucket is not None
        count = size = 0
        folders: dict[str, int] = {}
        pages = store.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=keeper.bucket, Prefix="sites/"):
            for item in page.get("Contents", ()):
                count += 1
                size += item["Size"]
                folder = _product_folder(item["Key"].removeprefix("sites/"))
                folders[folder] = folders.get(folder, 0) + item["Size"]
        return count, size, folders

    @contextmanager
    def profiled(self, keeper: Keeper, tag: str) -> Iterator[None]:
        """Record keeper with py-spy while the block runs (``--profile``)."""
        if self.options.profile is None:
            yield
            return
        out = self.options.profile / f"{self._keepers:02d}-{tag}-keeper.txt"
        command = [_py_spy(), "record", "--pid", str(keeper.process.pid)]
        spy = subprocess.Popen(
            [*command, *_SPY_OPTIONS, "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attaching takes a moment
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has, exits
            spy.wait(60)

    # -- traffic ------------------------------------------------------------

    def _traffic(self) -> dict[str, Traffic]:
        return {name: s.proxy.snapshot() for name, s in self.stores.items()}

    @staticmethod
    def _settle() -> None:
        """Flush dirty pages, so that no run pays for the previous one's
        writes, and let closing connections finish."""
        os.sync()
        time.sleep(0.5)

    def _account(
        self,
        run: Run,
        store: Store,
        before: dict[str, Traffic],
        keeper: Keeper | None = None,
        keeper_before: Traffic | None = None,
    ) -> None:
        time.sleep(0.3)  # the last bytes of closing connections
        s3 = store.proxy.snapshot() - before[store.name]
        if keeper is None:
            run.sent = sum(s3.sent.values())
            run.received = sum(s3.received.values())
            return
        assert keeper.proxy is not None and keeper_before is not None
        api = keeper.proxy.snapshot() - keeper_before
        # The client's own S3 requests are presigned (no Authorization
        # header); keeper's are signed.
        run.sent = sum(api.sent.values()) + s3.sent["unsigned"]
        run.received = sum(api.received.values()) + s3.received["unsigned"]
        run.keeper_store = s3.sent["signed"] + s3.received["signed"]

    # -- one tool each ------------------------------------------------------

    def s3_tool(self, name: str, *, proxied: bool) -> Run:
        store = self.store("rclone")
        bucket = store.new_bucket(name)
        url = store.url(proxied)
        env = clean_env(
            AWS_ACCESS_KEY_ID=store.endpoint.access_key,
            AWS_SECRET_ACCESS_KEY=store.endpoint.secret_key,
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
        )
        root = self.site.root
        if name == "s5cmd":
            command = [str(tools.s5cmd()), "--endpoint-url", url, "cp"]
            command += [f"{root}/*", f"s3://{bucket}/sites/"]
        else:
            config = self.workdir / "aws-config"
            config.write_text(
                "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"
            )
            env.update(
                AWS_CONFIG_FILE=str(config),
                AWS_SHARED_CREDENTIALS_FILE=str(self.workdir / "no-credentials"),
                AWS_PAGER="",
            )
            command = [str(tools.aws()), "--endpoint-url", url, "s3", "sync"]
            command += [str(root), f"s3://{bucket}/sites/"]
            command += ["--only-show-errors", "--no-progress"]
        self._settle()
        before = self._traffic()
        meter = CpuMeter({"store": store.pid}).start()
        done = run_timed(command, env)
        run = Run(done.seconds, cpu=meter.stop(), peak_rss_client=_rss_mb(done.max_rss))
        if proxied:
            self._account(run, store, before)
        if done.returncode != 0:
            raise RunFailed(f"exit status {done.returncode}: {done.tail()}")
        count, size = store.objects(bucket, "sites/")
        if count != len(self.site.files):
            raise RunFailed(f"stored {count} of {len(self.site.files)} files")
        run.files_sent = count
        store.drop(bucket)
        return run

    def ltd_series(
        self,
        store_name: str,
        *,
        proxied: bool,
        changed: bool,
        concurrency: int | None = None,
        tag: str = "ltd",
        site: GeneratedSite | None = None,
    ) -> tuple[Run, Run | None]:
        """A full ``ltd upload`` into a fresh keeper and bucket (or folder,
        for ``fs``), then (when ``changed``) a second one after rewriting 1%
        of the files."""
        site = site or self.site
        proxied = proxied and store_name != FS
        with self.product(store_name, proxied=proxied, tag=tag) as (keeper, store):
            full = self._ltd_once(keeper, store, proxied, concurrency, tag, site)
            second = None
            if changed:
                count = _one_percent(site)
                old = site.change(count, generation=self._keepers)
                try:
                    second = self._ltd_once(
                        keeper, store, proxied, concurrency, f"{tag}-1pct", site
                    )
                finally:
                    site.restore(old)
                _check_sent(second, count)
        return full, second

    def growth_series(self, store_name: str) -> Growth:
        """One full upload, then ``GROWTH_BUILDS`` uploads each with a
        different 1% changed; the bytes the store holds after the first and
        after the last. The site is restored afterwards."""
        where = "storage folder" if store_name == FS else "bucket under sites/"
        growth = Growth(STORE_LABELS.get(store_name, store_name), where, GROWTH_BUILDS)
        count = _one_percent(self.site)
        with self.product(store_name, proxied=False, tag="growth") as (keeper, store):
            full = self._ltd_once(keeper, store, False, None, "growth", self.site)
            growth.full_seconds = full.seconds
            growth.first_objects, growth.first_bytes, _ = self.stored(keeper, store)
            log(f"    full {_describe(full)}; {growth.first_bytes / 1e6:.1f} MB stored")
            originals: dict[str, bytes] = {}
            try:
                for n in range(GROWTH_BUILDS):
                    # Generations no ltd_series uses (those count keepers).
                    old = self.site.change(count, generation=100_000 + n)
                    for path, data in old.items():
                        originals.setdefault(path, data)
                    run = self._ltd_once(
                        keeper, store, False, None, f"growth-{n + 1}", self.site
                    )
                    _check_sent(run, count)
                    growth.seconds.append(run.seconds)
                    log(f"    1% #{n + 1}: {run.seconds:.2f}s")
            finally:
                self.site.restore(originals)
            growth.after_objects, growth.after_bytes, growth.after_folders = (
                self.stored(keeper, store)
            )
        return growth

    def _ltd_once(
        self,
        keeper: Keeper,
        store: Store | None,
        proxied: bool,
        concurrency: int | None,
        tag: str,
        site: GeneratedSite,
    ) -> Run:
        command: list[str | os.PathLike[str]] = [
            tools.ltd(),
            *("upload", "--org", ORG, "--product", PRODUCT),
            *("--dir", str(site.root), "--git-ref", "main"),
            *("--host", keeper.url, "--token", keeper.token, "--no-progress"),
            # --wait's own limit (600 s) would end a large site's run early.
            *("--timeout", str(int(RUN_TIMEOUT))),
        ]
        if concurrency is not None:
            command += ["--concurrency", str(concurrency)]
        if self.options.profile is not None:
            out = self.options.profile / f"{self._keepers:02d}-{tag}-client.txt"
            spy = ["record", *_SPY_OPTIONS, "-o", str(out), "--"]
            command = [_py_spy(), *spy, *command]
        self._settle()
        before = self._traffic()
        keeper_before = keeper.proxy.snapshot() if keeper.proxy else None
        pid = keeper.process.pid
        meter = CpuMeter({"keeper": pid, "store": store.pid if store else None})
        with self.profiled(keeper, tag):
            reset_peak_rss(pid)
            meter.start()
            done = run_timed(command, clean_env())
            cpu = meter.stop()
            keeper_rss = peak_rss_kib(pid)
        run = Run(
            done.seconds,
            phases=_ltd_phases(done),
            cpu=cpu,
            peak_rss_client=_rss_mb(done.max_rss),
            peak_rss_keeper=_rss_mb(keeper_rss),
        )
        if proxied:
            assert store is not None
            self._account(run, store, before, keeper, keeper_before)
        if done.returncode != 0:
            raise RunFailed(f"exit status {done.returncode}: {done.tail()}")
        match = re.search(r"(\d+) to upload", done.stderr)
        run.files_sent = int(match.group(1)) if match else None
        self._check_complete(keeper, site)
        return run

    def conveyor(self, store_name: str, *, proxied: bool) -> Run:
        """The released ltd-conveyor 0.8 through keeper's 1.x routes. rclone
        refuses S3 POST uploads, so there keeper relays them
        (``presigned_post=false``); moto takes them directly."""
        ltd08 = tools.ltd_conveyor()
        self.versions.setdefault(
            "ltd-conveyor", tools.version_of([str(ltd08), "--version"])
        )
        store = self.store(store_name)
        bucket = store.new_bucket("conveyor")
        relay = store_name == "rclone"
        with self.keeper(store, bucket, proxied=proxied, relay_posts=relay) as keeper:
            env = {
                "PATH": "/usr/bin:/bin",
                "HOME": str(self.workdir),
                "LTD_HOST": keeper.url,
                "LTD_USERNAME": "bench",
                "LTD_PASSWORD": keeper.token,
            }
            command = [str(ltd08), "upload", "--product", PRODUCT]
            command += ["--git-ref", "main", "--dir", str(self.site.root)]
            self._settle()
            before = self._traffic()
            keeper_before = keeper.proxy.snapshot() if keeper.proxy else None
            meter = CpuMeter({"keeper": keeper.process.pid, "store": store.pid})
            with self.profiled(keeper, f"conveyor-{store_name}"):
                meter.start()
                done = run_timed(command, env)
                cpu = meter.stop()
            run = Run(
                done.seconds,
                files_sent=len(self.site.files),
                cpu=cpu,
                peak_rss_client=_rss_mb(done.max_rss),
            )
            if proxied:
                self._account(run, store, before, keeper, keeper_before)
            if done.returncode != 0:
                raise RunFailed(f"exit status {done.returncode}: {done.tail()}")
            self._check_complete(keeper, self.site)
        store.drop(bucket)
        return run

    def _check_complete(self, keeper: Keeper, site: GeneratedSite) -> None:
        with keeper.client() as client:
            response = client.get(f"{API}/builds", params={"limit": 1})
            response.raise_for_status()
            build = response.json()[0]
        if build["status"] != "complete" or build["file_count"] != len(site.files):
            raise RunFailed(
                f"build {build['id']} is {build['status']} with "
                f"{build['file_count']} files"
            )

    # -- the plan -----------------------------------------------------------

    def measure(self) -> None:
        wanted = self.options.only
        for name in MEASUREMENTS:
            if name in wanted and name != GROWTH:
                store = "moto" if name.endswith("-moto") else "rclone"
                if name == "ltd-conveyor":
                    store = "rclone, POSTs relayed by keeper"
                counted = not name.startswith("ltd-fs")
                if not counted:
                    store = STORE_LABELS[FS]
                self.results[name] = Measurement(
                    name, LABELS[name], store, counted=counted
                )
        for round_ in range(self.options.repeat):
            modes = [True] if self.options.proxy_only else [True, False]
            for proxied in modes:
                suffix = "" if proxied else " (no proxy)"
                self._round(round_, proxied, suffix)
            # No S3 traffic to count on the filesystem store: once a round,
            # never through a proxy.
            self._pair(
                round_,
                "",
                False,
                self.results.get("ltd-fs"),
                self.results.get("ltd-fs-1pct"),
                FS,
                tag="fs",
            )

    def _record(
        self,
        round_: int,
        suffix: str,
        proxied: bool,
        result: Measurement,
        action: Callable[[], Run | None],
        *,
        label: str | None = None,
        keep: bool = True,
    ) -> None:
        if result.error:
            return
        where = f" [{result.store}]" if result.store != "rclone" else ""
        log(
            f"[{round_ + 1}/{self.options.repeat}] {label or result.label}"
            f"{where}{suffix} …"
        )
        try:
            run = action()
        except (RunFailed, tools.ToolMissing, RuntimeError) as exc:
            result.error = str(exc).strip().splitlines()[0][:200]
            log(f"    n/a: {exc}")
            return
        if run is not None:
            log(f"    {_describe(run)}")
            if keep:
                (result.proxied if proxied else result.direct).append(run)

    def _pair(
        self,
        round_: int,
        suffix: str,
        proxied: bool,
        full: Measurement | None,
        pct: Measurement | None,
        store_name: str,
        *,
        tag: str = "ltd",
        site: GeneratedSite | None = None,
    ) -> None:
        """A full upload and, when ``pct`` is wanted, the 1%-changed one
        after it into the same keeper (which needs the full one before it,
        measured or not)."""
        first = full or pct
        if first is None:
            return
        changed: list[Run | None] = []

        def run_full() -> Run:
            run, second = self.ltd_series(
                store_name,
                proxied=proxied,
                changed=pct is not None,
                tag=tag,
                site=site,
            )
            changed.append(second)
            return run

        label = None
        if full is None:
            label = first.label.replace("1% changed", "full") + ", before the 1% run"
        self._record(
            round_, suffix, proxied, first, run_full, label=label, keep=bool(full)
        )
        if pct is not None and changed and changed[0] is not None:
            self._record(round_, suffix, proxied, pct, partial(changed.pop, 0))

    def _round(self, round_: int, proxied: bool, suffix: str) -> None:
        wanted = set(self.options.only)
        record = partial(self._record, round_, suffix, proxied)
        for name in ("s5cmd", "aws"):
            if name in wanted:
                record(self.results[name], partial(self.s3_tool, name, proxied=proxied))
        self._pair(
            round_,
            suffix,
            proxied,
            self.results.get("ltd"),
            self.results.get("ltd-1pct"),
            "rclone",
        )
        if "ltd-conveyor" in wanted:
            record(
                self.results["ltd-conveyor"],
                partial(self.conveyor, "rclone", proxied=proxied),
            )
        if "ltd-moto" in wanted:
            record(self.results["ltd-moto"], partial(self._ltd_moto, proxied))
        if "ltd-conveyor-moto" in wanted:
            record(
                self.results["ltd-conveyor-moto"],
                partial(self.conveyor, "moto", proxied=proxied),
            )

    def measure_growth(self) -> None:
        """``storage-10`` on rclone and on the filesystem store, once (not
        repeated: the bytes do not vary), without the proxy."""
        for store_name in ("rclone", FS):
            label = STORE_LABELS.get(store_name, store_name)
            log(
                f"storage growth [{label}]: one full upload, then "
                f"{GROWTH_BUILDS} with 1% changed …"
            )
            try:
                growth = self.growth_series(store_name)
            except (RunFailed, RuntimeError) as exc:
                where = "storage folder" if store_name == FS else "bucket"
                growth = Growth(label, where, GROWTH_BUILDS)
                growth.error = str(exc).strip().splitlines()[0][:200]
                log(f"    n/a: {exc}")
            else:
                assert growth.after_bytes is not None
                log(
                    f"    {growth.after_bytes / 1e6:.1f} MB stored after "
                    f"{GROWTH_BUILDS} × 1%: {growth.ratio or 0:.2f}× the first build"
                )
            self.growth[label] = growth

    def measure_large(self) -> None:
        """``--large``: a full and a 1%-changed upload of the large site on
        each of ``--large-stores``, a fresh keeper per pair, no proxy."""
        self.large_site = self._generate(
            "large-site", self.options.large_files, self.options.large_size_mb
        )
        label = f"large site: {LABELS['ltd']}"
        for store_name in self.options.large_stores:
            where = STORE_LABELS.get(store_name, store_name)
            for name, text in (
                (f"large-{store_name}", label),
                (f"large-{store_name}-1pct", f"large site: {LABELS['ltd-1pct']}"),
            ):
                self.large[name] = Measurement(name, text, where, counted=False)
        for round_ in range(self.options.repeat):
            for store_name in self.options.large_stores:
                self._pair(
                    round_,
                    "",
                    False,
                    self.large[f"large-{store_name}"],
                    self.large[f"large-{store_name}-1pct"],
                    store_name,
                    tag=f"large-{store_name}",
                    site=self.large_site,
                )

    def _ltd_moto(self, proxied: bool) -> Run:
        full, _ = self.ltd_series("moto", proxied=proxied, changed=False, tag="moto")
        return full

    def measure_sweep(self) -> None:
        for level in self.options.sweep:
            self.sweep[level] = Measurement(
                f"ltd-c{level}", f"ltd upload --concurrency {level}", "rclone"
            )
        for round_ in range(self.options.repeat):
            for level, result in self.sweep.items():
                if result.error:
                    continue
                log(f"[{round_ + 1}/{self.options.repeat}] {result.label} …")
                try:
                    run, _ = self.ltd_series(
                        "rclone",
                        proxied=self.options.proxy_only,
                        changed=False,
                        concurrency=level,
                        tag=f"c{level}",
                    )
                except (RunFailed, RuntimeError) as exc:
                    result.error = str(exc).strip().splitlines()[0][:200]
                    log(f"    n/a: {exc}")
                    continue
                runs = result.proxied if self.options.proxy_only else result.direct
                runs.append(run)
                log(f"    {_describe(run)}")

    def startup_seconds(self) -> float:
        """``ltd``'s own start-up (interpreter and imports), for the phase
        breakdown."""
        times = []
        for _ in range(3):
            done = run_timed([tools.ltd(), "upload", "--help"], clean_env())
            times.append(done.seconds)
        return min(times)


#: Raw collapsed stacks; sampling without pausing the process keeps py-spy
#: from slowing keeper's many threads down as much.
_SPY_OPTIONS = ["--format", "raw", "--nonblocking", "--rate", "50"]


def _py_spy() -> str:
    found = tools.beside_interpreter("py-spy") or shutil.which("py-spy")
    if found is None:
        raise tools.ToolMissing("--profile needs py-spy (pip install py-spy)")
    return str(found)


def _set_up_product(url: str) -> str:
    auth = {"Authorization": f"Bearer {BOOTSTRAP}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
        for path, body in (
            ("/api/orgs", {"slug": ORG, "title": "LSST", "base_domain": "lsst.io"}),
            (f"/api/orgs/{ORG}/products", {"slug": PRODUCT, "title": "Pipelines"}),
        ):
            response = client.post(path, json=body)
            if response.status_code != 201:
                raise RuntimeError(
                    f"POST {path}: {response.status_code} {response.text}"
                )
        response = client.post(
            f"/api/orgs/{ORG}/tokens", json={"role": "uploader", "name": "bench"}
        )
        if response.status_code != 201:
            raise RuntimeError(f"cannot make a token: {response.text}")
        token: str = response.json()["token"]
        return token


def _one_percent(site: GeneratedSite) -> int:
    return max(1, round(len(site.files) / 100))


def _check_sent(run: Run, count: int) -> None:
    if run.files_sent != count:
        raise RunFailed(f"the 1% upload sent {run.files_sent} files, not {count}")


def _ltd_phases(done: Finished) -> dict[str, float]:
    """Phases of one ``ltd upload`` from when its progress lines arrived."""
    marks: dict[str, float] = {}
    for at, line in done.lines:
        if line.startswith("scanned "):
            marks.setdefault("scanned", at)
        elif line.startswith(("registered build", "resuming build")):
            marks.setdefault("registered", at)
        elif line.startswith("verifying"):
            marks.setdefault("sent", at)
    if len(marks) < 3:
        return {}
    return {
        "start+scan": marks["scanned"],
        "register": marks["registered"] - marks["scanned"],
        "transfer": marks["sent"] - marks["registered"],
        "confirm": done.seconds - marks["sent"],
    }


def _describe(run: Run) -> str:
    parts = [f"{run.seconds:.2f}s"]
    if run.sent is not None:
        parts.append(f"{run.sent / 1e6:.1f} MB sent")
    if run.keeper_store is not None:
        parts.append(f"keeper↔store {run.keeper_store / 1e6:.1f} MB")
    if run.phases:
        parts.append(", ".join(f"{k} {v:.2f}s" for k, v in run.phases.items()))
    rss = [
        f"{who} {mb:.0f} MB"
        for who, mb in (
            ("client", run.peak_rss_client),
            ("keeper", run.peak_rss_keeper),
        )
        if mb
    ]
    if rss:
        parts.append("peak RSS " + ", ".join(rss))
    return "; ".join(parts)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- command line -------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.upload",
        description="Time `ltd upload` against s5cmd, aws s3 sync and "
        "ltd-conveyor 0.8 on a generated Sphinx-like site and a local S3 server.",
    )
    parser.add_argument("--files", type=int, default=5000, help="files in the site")
    parser.add_argument(
        "--size-mb", type=float, default=100.0, help="total size of the site, MB"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each tool; the median is shown"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=MEASUREMENTS,
        metavar="NAME",
        help=f"measure only these: {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--sweep-concurrency",
        nargs="*",
        type=int,
        metavar="N",
        help="also time full `ltd upload` at each --concurrency "
        f"(default {' '.join(map(str, SWEEP_DEFAULT))})",
    )
    parser.add_argument(
        "--proxy-only",
        action="store_true",
        help="time each tool only through the byte-counting proxy, not also "
        "without it (half the runs; the proxy's CPU use slows every tool)",
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--seed", type=int, default=1, help="seed of the site")
    parser.add_argument(
        "--workdir", type=Path, help="work here instead of a new temporary folder"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder afterwards"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record keeper and ltd with py-spy into DIR (perturbs the timings)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="also a full and a 1%%-changed upload of a large site, with peak RSS",
    )
    parser.add_argument(
        "--large-files", type=int, default=50_000, help="files in the large site"
    )
    parser.add_argument(
        "--large-size-mb",
        type=float,
        default=500.0,
        help="total size of the large site, MB",
    )
    parser.add_argument(
        "--large-stores",
        nargs="+",
        choices=(FS, "rclone"),
        default=[FS],
        metavar="STORE",
        help="stores for the large site: fs (default), rclone",
    )
    args = parser.parse_args(argv)
    if args.files < 20 or args.large_files < 20:
        parser.error("--files and --large-files must be at least 20")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sweep = args.sweep_concurrency
    if sweep is not None and not sweep:
        sweep = list(SWEEP_DEFAULT)
    only = args.only or list(MEASUREMENTS)
    return Options(
        files=args.files,
        size_mb=args.size_mb,
        repeat=args.repeat,
        only=list(only),
        sweep=list(sweep or []),
        proxy_only=args.proxy_only,
        json=args.json,
        seed=args.seed,
        workdir=args.workdir,
        keep=args.keep,
        profile=args.profile,
        large=args.large,
        large_files=args.large_files,
        large_size_mb=args.large_size_mb,
        large_stores=list(dict.fromkeys(args.large_stores)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    if options.profile is not None:
        try:
            _py_spy()
        except tools.ToolMissing as exc:
            log(str(exc))
            return 2
        options.profile.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    if load_before > 1.0:
        log(
            f"note: load average is {load_before:.1f} on {os.cpu_count()} CPUs; "
            "other work on this machine will show in the timings"
        )
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="ltd-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with ExitStack() as stack:
            bench = Bench(options, workdir, stack)
            bench.generate()
            startup = None
            if {"ltd", "ltd-1pct", "ltd-fs", "ltd-fs-1pct"} & set(options.only):
                startup = bench.startup_seconds()
            bench.measure()
            if options.sweep:
                bench.measure_sweep()
            if GROWTH in options.only:
                bench.measure_growth()
            if options.large:
                bench.measure_large()
            large = bench.large_site
            report = Report(
                files=len(bench.site.files),
                size=bench.site.total_size,
                folders=bench.site.directories,
                repeat=options.repeat,
                load_before=load_before,
                results=bench.results,
                sweep=bench.sweep,
                startup=startup,
                versions=bench.versions,
                options={
                    k: str(v) if isinstance(v, Path) else v
                    for k, v in asdict(options).items()
                },
                growth=bench.growth,
                large_site=None
                if large is None
                else {
                    "files": len(large.files),
                    "bytes": large.total_size,
                    "folders": large.directories,
                },
                large=bench.large,
            )
    finally:
        if not options.keep and options.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render(report))
    if options.profile is not None:
        print()
        print(summarize(options.profile))
    if options.json is not None:
        options.json.write_text(json.dumps(as_json(report), indent=2) + "\n")
        log(f"results written to {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
