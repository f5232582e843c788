"""Upload benchmark: ``ltd upload`` against s5cmd, ``aws s3 sync`` and the
released ltd-conveyor 0.8, on the same generated site and the same local
S3 server, in one run.

    .venv/bin/python -m bench.upload                     # everything, full size
    .venv/bin/python -m bench.upload --only ltd s5cmd    # a subset
    .venv/bin/python -m bench.upload --sweep-concurrency # also 8…128 streams

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
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import boto3
import httpx

from bench import tools
from bench.cpu import CpuMeter, child_listening_on
from bench.profiling import summarize
from bench.proxy import CountingProxy, Traffic
from bench.report import Measurement, Report, Run, as_json, render
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
    "ltd-conveyor",
    "ltd-moto",
    "ltd-conveyor-moto",
)
LABELS = {
    "s5cmd": "s5cmd cp",
    "aws": "aws s3 sync",
    "ltd": "ltd upload (full)",
    "ltd-1pct": "ltd upload (1% changed)",
    "ltd-conveyor": "ltd-conveyor 0.8",
    "ltd-moto": "ltd upload (full)",
    "ltd-conveyor-moto": "ltd-conveyor 0.8",
}
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

    readers = [threading.Thread(target=f, daemon=True) for f in (read_err, read_out)]
    for t in readers:
        t.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RunFailed(f"still running after {timeout:.0f}s; stopped") from None
    seconds = time.monotonic() - started
    for t in readers:
        t.join(10)
    return Finished(
        seconds,
        process.returncode,
        "".join(out),
        "\n".join(line for _, line in lines),
        lines,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _FOREIGN.match(k)}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


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


class Bench:
    def __init__(self, options: Options, workdir: Path, stack: ExitStack) -> None:
        self.options = options
        self.workdir = workdir
        self.stack = stack
        self.site: GeneratedSite
        self.stores: dict[str, Store] = {}
        self.results: dict[str, Measurement] = {}
        self.sweep: dict[int, Measurement] = {}
        self.versions: dict[str, str] = {}
        self._keepers = 0

    # -- set-up -------------------------------------------------------------

    def generate(self) -> None:
        started = time.monotonic()
        self.site = generate_site(
            self.workdir / "site",
            files=self.options.files,
            size=int(self.options.size_mb * 1e6),
            seed=self.options.seed,
        )
        log(
            f"generated {len(self.site.files)} files, "
            f"{self.site.total_size / 1e6:.1f} MB in {self.site.directories} "
            f"folders ({time.monotonic() - started:.1f}s)"
        )

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
        self, store: Store, bucket: str, *, proxied: bool, relay_posts: bool = False
    ) -> Iterator[Keeper]:
        """A fresh ``keeper serve`` (its own SQLite file) storing in
        ``bucket``, with the org, the product and an uploader token."""
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
            storage = (
                f"s3://{bucket}/sites?endpoint_url={store.url(proxied)}"
                "&region=us-east-1"
            )
            if relay_posts:
                storage += "&presigned_post=false"
            env = clean_env(
                KEEPER_BOOTSTRAP_TOKEN=BOOTSTRAP,
                KEEPER_BASE_URL=url,
                KEEPER_DATABASE_URL=f"sqlite:///{workdir / 'keeper.sqlite3'}",
                KEEPER_STORAGE_URL=storage,
                KEEPER_COMPAT_ORG=ORG,
                AWS_ACCESS_KEY_ID=store.endpoint.access_key,
                AWS_SECRET_ACCESS_KEY=store.endpoint.secret_key,
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
            keeper = Keeper(url, direct_url, token, proxy, process)
            yield keeper

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
        run = Run(done.seconds, cpu=meter.stop())
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
    ) -> tuple[Run, Run | None]:
        """A full ``ltd upload`` into a fresh keeper and bucket, then (when
        ``changed``) a second one after rewriting 1% of the files."""
        store = self.store(store_name)
        bucket = store.new_bucket(tag)
        with self.keeper(store, bucket, proxied=proxied) as keeper:
            full = self._ltd_once(keeper, store, proxied, concurrency, tag)
            second = None
            if changed:
                count = max(1, round(len(self.site.files) / 100))
                old = self.site.change(count, generation=self._keepers)
                try:
                    second = self._ltd_once(
                        keeper, store, proxied, concurrency, f"{tag}-1pct"
                    )
                finally:
                    self.site.restore(old)
                if second.files_sent != count:
                    raise RunFailed(
                        f"the 1% upload sent {second.files_sent} files, not {count}"
                    )
        store.drop(bucket)
        return full, second

    def _ltd_once(
        self,
        keeper: Keeper,
        store: Store,
        proxied: bool,
        concurrency: int | None,
        tag: str,
    ) -> Run:
        command: list[str | os.PathLike[str]] = [
            tools.ltd(),
            *("upload", "--org", ORG, "--product", PRODUCT),
            *("--dir", str(self.site.root), "--git-ref", "main"),
            *("--host", keeper.url, "--token", keeper.token, "--no-progress"),
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
        meter = CpuMeter({"keeper": keeper.process.pid, "store": store.pid})
        with self.profiled(keeper, tag):
            meter.start()
            done = run_timed(command, clean_env())
            cpu = meter.stop()
        run = Run(done.seconds, phases=_ltd_phases(done), cpu=cpu)
        if proxied:
            self._account(run, store, before, keeper, keeper_before)
        if done.returncode != 0:
            raise RunFailed(f"exit status {done.returncode}: {done.tail()}")
        match = re.search(r"(\d+) to upload", done.stderr)
        run.files_sent = int(match.group(1)) if match else None
        self._check_complete(keeper)
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
            run = Run(done.seconds, files_sent=len(self.site.files), cpu=cpu)
            if proxied:
                self._account(run, store, before, keeper, keeper_before)
            if done.returncode != 0:
                raise RunFailed(f"exit status {done.returncode}: {done.tail()}")
            self._check_complete(keeper)
        store.drop(bucket)
        return run

    def _check_complete(self, keeper: Keeper) -> None:
        with keeper.client() as client:
            response = client.get(f"{API}/builds", params={"limit": 1})
            response.raise_for_status()
            build = response.json()[0]
        if build["status"] != "complete" or build["file_count"] != len(self.site.files):
            raise RunFailed(
                f"build {build['id']} is {build['status']} with "
                f"{build['file_count']} files"
            )

    # -- the plan -----------------------------------------------------------

    def measure(self) -> None:
        wanted = self.options.only
        for name in MEASUREMENTS:
            if name in wanted:
                store = "moto" if name.endswith("-moto") else "rclone"
                if name == "ltd-conveyor":
                    store = "rclone, POSTs relayed by keeper"
                self.results[name] = Measurement(name, LABELS[name], store)
        for round_ in range(self.options.repeat):
            modes = [True] if self.options.proxy_only else [True, False]
            for proxied in modes:
                suffix = "" if proxied else " (no proxy)"
                self._round(round_, proxied, suffix)

    def _round(self, round_: int, proxied: bool, suffix: str) -> None:
        wanted = set(self.options.only)

        def record(
            name: str, action: Callable[[], Run | None], *, keep: bool = True
        ) -> None:
            result = self.results[name]
            if result.error:
                return
            label = result.label if keep else f"{LABELS['ltd']}, before the 1% run"
            log(f"[{round_ + 1}/{self.options.repeat}] {label}{suffix} …")
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

        for name in ("s5cmd", "aws"):
            if name in wanted:
                record(name, partial(self.s3_tool, name, proxied=proxied))
        if wanted & {"ltd", "ltd-1pct"}:
            changed: list[Run | None] = []

            def full() -> Run:
                first, second = self.ltd_series(
                    "rclone", proxied=proxied, changed="ltd-1pct" in wanted
                )
                changed.append(second)
                return first

            # The 1% upload needs the full one before it, measured or not.
            measured = "ltd" in wanted
            record("ltd" if measured else "ltd-1pct", full, keep=measured)
            if changed and changed[0] is not None:
                record("ltd-1pct", partial(changed.pop, 0))
        if "ltd-conveyor" in wanted:
            record("ltd-conveyor", partial(self.conveyor, "rclone", proxied=proxied))
        if "ltd-moto" in wanted:
            record("ltd-moto", partial(self._ltd_moto, proxied))
        if "ltd-conveyor-moto" in wanted:
            record("ltd-conveyor-moto", partial(self.conveyor, "moto", proxied=proxied))

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
    args = parser.parse_args(argv)
    if args.files < 20:
        parser.error("--files must be at least 20")
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
            if {"ltd", "ltd-1pct"} & set(options.only):
                startup = bench.startup_seconds()
            bench.measure()
            if options.sweep:
                bench.measure_sweep()
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
