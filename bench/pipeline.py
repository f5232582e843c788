"""Publishing pipeline benchmark: confirmation, publishing, and the API
meanwhile.

1. **confirm**: for a 10-file and a ``--big-files`` build (default 10,000),
   the confirmation ``PATCH …/builds/{id}`` alone (it only queues the
   verification, so both sizes should take the same), and the time from it until
   the build is complete and until ``__main`` is ``published`` on the
   built-in edge (``keeper serve``, its embedded job runner, SQLite) and on
   an nginx edge kept by ``keeper edge agent``.
2. **workers**: publishes per second with 1 and with 2 ``keeper worker``
   processes (arq on Redis, PostgreSQL in a database of its own, dropped
   afterwards): ``--products`` products each get one small build, all
   registered and uploaded first, then all confirmed at once.
3. **latency**: ``GET …/editions/__main`` at a fixed ``--rate`` while those
   publishes run, and at rest just before, for comparison.

Builds are registered and uploaded as ``ltd upload`` does (conveyor's
``Transfer``) before any clock starts. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, func, select

from bench import tools
from bench.cpu import cpu_seconds
from bench.report import median, table
from bench.upload import clean_env
from conveyor.client import KeeperClient
from conveyor.scan import scan_site
from conveyor.upload import stage_site
from keeper.db import Build, BuildStatus, Edition, Product, PublishStatus
from keeper.db.engine import make_engine
from keeper.jobs.on_arq import WORKER_CONCURRENCY
from keeper.jobs.runner import due_or_running
from tests.servers import (
    find_executable,
    free_port,
    rclone_s3_server,
    running_server,
    stop_process,
)

PARTS = ("confirm", "workers")
STORES = {"file": "a local folder (file store)", "rclone": "rclone serve s3"}
SMALL_FILES = 10
#: Files of each build in the workers part: a page, a second one, a style.
LOAD_FILES = 3
SECRET = "bench-pipeline-shared-secret-key"
TOKEN = "bench-pipeline-admin-token"
#: The tests' PostgreSQL and Redis (tests/conftest.py reads the same variables).
PG_URL = os.environ.get(
    "KEEPER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("KEEPER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Orgs: the built-in edge only; an nginx edge kept by an agent; the load.
BUILTIN, NGINX, LOAD = "builtin", "nginx", "load"


class PartFailed(RuntimeError):
    """A part could not run; the message says why (shown as n/a)."""


@dataclass
class Options:
    big_files: int
    repeat: int
    products: int
    workers: list[int]
    rate: float
    rest_seconds: float
    agent_interval: float
    store: str
    only: list[str]
    timeout: float
    pg_url: str
    redis_url: str
    json: Path | None
    workdir: Path | None
    keep: bool
    quick: bool


@dataclass
class ConfirmRun:
    """One build confirmed: seconds from sending the PATCH."""

    org: str
    files: int
    patch: float
    complete: float
    published: float
    #: Registering and uploading it beforehand (not part of any figure).
    staged: float = 0.0


@dataclass
class WorkersRun:
    workers: int
    products: int
    #: Seconds from the first PATCH until the last one was answered, and
    #: until the last ``__main`` was published (its ``published_at``).
    confirm_all: float
    published: float
    #: CPU seconds while it lasted: keeper serve, the workers together.
    cpu: dict[str, float] = field(default_factory=dict)
    patch_ms: list[float] = field(default_factory=list)
    #: Publishes per second: products over ``published``.
    rate: float = 0.0

    def __post_init__(self) -> None:
        self.rate = self.products / self.published


@dataclass
class Latency:
    """Edition reads at a fixed rate: milliseconds from when each was due."""

    label: str
    workers: int
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


@dataclass
class Results:
    confirm: list[ConfirmRun] = field(default_factory=list)
    workers: list[WorkersRun] = field(default_factory=list)
    latency: list[Latency] = field(default_factory=list)
    #: part or row → why it could not be measured.
    missing: dict[str, str] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[bench.pipeline] {message}", file=sys.stderr, flush=True)


# -- building blocks ----------------------------------------------------------


@dataclass
class Keeper:
    """A running ``keeper serve``, a client on it and an engine on its
    database (to wait for its jobs without asking its API)."""

    url: str
    client: httpx.Client
    process: subprocess.Popen[bytes]
    engine: Engine

    @staticmethod
    def auth() -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def settle(self, timeout: float) -> None:
        """Wait until no job is due or running (what earlier changes asked
        for is done), as the tests' ``ServedKeeper.settle`` does."""
        wait_until(
            lambda: not due_or_running(self.engine, within=1.0),
            timeout,
            "keeper's jobs settling",
        )


@contextmanager
def keeper_serve(workdir: Path, env: dict[str, str]) -> Iterator[Keeper]:
    """``keeper serve`` in ``workdir`` with ``env`` (``KEEPER_DATABASE_URL``
    at least) and nothing else of this shell's ``KEEPER_*``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    full = clean_env(KEEPER_BOOTSTRAP_TOKEN=TOKEN, KEEPER_BASE_URL=url, **env)
    command = [str(tools.keeper()), "serve", "--host", "127.0.0.1"]
    with (
        running_server(
            [*command, "--port", str(port)],
            f"{url}/api",
            name="keeper serve",
            env=full,
            cwd=workdir,
            timeout=60,
            log_path=workdir / "keeper.log",
        ) as process,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        engine = make_engine(env["KEEPER_DATABASE_URL"])
        try:
            yield Keeper(url, client, process, engine)
        finally:
            engine.dispose()


@contextmanager
def running_nginx(conf: Path, port: int) -> Iterator[None]:
    """nginx in the foreground on the files an agent wrote into ``conf``
    (as tests/edge/nginx.py runs it)."""
    nginx = find_executable("nginx")
    assert nginx is not None
    command = [nginx, "-p", str(conf), "-c", str(conf / "nginx.conf")]
    command += ["-e", str(conf / "logs" / "error.log"), "-g", "daemon off;"]
    with running_server(command, f"http://127.0.0.1:{port}/", name="nginx"):
        yield


def write_site(root: Path, files: int, label: str) -> Path:
    """``files`` small HTML files (500 to a folder), every one naming
    ``label``, so no file of an earlier build can be reused."""
    for i in range(files - 1):
        path = root / f"p{i // 500}" / f"{i}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<p>{label} page {i}</p>\n")
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(f"<h1>build {label}</h1>\n")
    return root


def stage(
    api: KeeperClient, org: str, product: str, folder: Path, concurrency: int = 32
) -> str:
    """Register and upload ``folder`` as a build of ``product``, as ``ltd
    upload`` does up to its confirmation (which the benchmark times on its
    own); returns the build's id."""
    staged = stage_site(
        api,
        scan_site(folder),
        org=org,
        product=product,
        git_ref="main",
        concurrency=concurrency,
    )
    return str(staged.created["id"])


def confirm(client: httpx.Client, path: str, auth: dict[str, str]) -> float:
    """Confirm the build at ``path``; the seconds the request took. Keeper
    answers 202 with the build ``processing``: verification is queued."""
    started = time.perf_counter()
    answer = client.patch(path, headers=auth, json={"status": "uploaded"})
    took = time.perf_counter() - started
    if answer.status_code != 202 or answer.json()["status"] != "processing":
        raise PartFailed(
            f"PATCH {path} answered {answer.status_code}: {answer.text[:300]}"
        )
    return took


def stamp(value: str | None) -> float:
    """A timestamp of the API as seconds since the epoch."""
    assert value is not None
    return datetime.fromisoformat(value).timestamp()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise PartFailed(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.05)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Reader:
    """``GET`` the paths in turn at ``rate`` per second from a thread, open
    loop: a request is sent when it is due whether or not the previous ones
    were answered, and its latency counts from when it was due."""

    def __init__(self, url: str, paths: list[str], rate: float, into: Latency):
        self.url, self.paths, self.rate, self.into = url, paths, rate, into
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> Reader:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.into.seconds += time.perf_counter() - self._started

    def _run(self) -> None:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        with (
            httpx.Client(base_url=self.url, timeout=30, limits=limits) as client,
            ThreadPoolExecutor(32, thread_name_prefix="reader") as pool,
        ):
            start, sent = time.perf_counter(), 0
            while True:
                due = start + sent / self.rate
                if self._stop.wait(max(0.0, due - time.perf_counter())):
                    break
                path = self.paths[sent % len(self.paths)]
                pool.submit(self._one, client, path, due)
                sent += 1

    def _one(self, client: httpx.Client, path: str, due: float) -> None:
        try:
            ok = client.get(path).status_code == 200
        except httpx.HTTPError:
            ok = False
        took = (time.perf_counter() - due) * 1000
        with self._lock:
            if ok:
                self.into.ms.append(took)
            else:
                self.into.errors += 1


def _tail(path: Path, limit: int = 2000) -> str:
    return path.read_text(errors="replace")[-limit:] if path.exists() else ""


# -- the benchmark ------------------------------------------------------------


class Bench:
    def __init__(self, options: Options, work: Path, stack: ExitStack) -> None:
        self.options = options
        self.work = work
        self.stack = stack
        self.results = Results()
        self._labels = 0
        self._s3: Any = None
        #: pid of each keeper worker → its log.
        self._worker_logs: dict[int, Path] = {}

    def label(self) -> str:
        self._labels += 1
        return f"{self._labels:04d}-{uuid.uuid4().hex[:6]}"

    def storage_env(self, name: str) -> dict[str, str]:
        """Where a keeper stores builds: a folder, or a bucket of one
        ``rclone serve s3`` (anonymous reads, for nginx)."""
        if self.options.store == "file":
            return {"KEEPER_STORAGE_URL": f"file://{self.work / name / 'storage'}"}
        if self._s3 is None:
            self._s3 = self.stack.enter_context(
                rclone_s3_server(self.work / "rclone", auth=False)
            )
        env: dict[str, str] = self._s3.keeper_env(self._s3.new_bucket())
        return env

    @staticmethod
    def setup(
        keeper: Keeper, org: str, products: Sequence[str], *, new: bool = True
    ) -> None:
        """The org ``org`` (sites under ``ORG.test``, unless not ``new``)
        and these products of it."""
        client, auth = keeper.client, keeper.auth()
        if new:
            r = client.post(
                "/api/orgs",
                headers=auth,
                json={"slug": org, "title": org, "base_domain": f"{org}.test"},
            )
            if r.status_code != 201:
                raise PartFailed(f"cannot create the org {org}: {r.text}")
        for product in products:
            r = client.post(
                f"/api/orgs/{org}/products",
                headers=auth,
                json={"slug": product, "title": product},
            )
            if r.status_code != 201:
                raise PartFailed(f"cannot create {org}/{product}: {r.text}")

    # -- 1. confirm → published ---------------------------------------------

    def confirm_part(self) -> None:
        env = {
            **self.storage_env("embedded"),
            "KEEPER_DATABASE_URL": f"sqlite:///{self.work / 'embedded' / 'db.sqlite3'}",
        }
        keeper = self.stack.enter_context(keeper_serve(self.work / "embedded", env))
        api = self.stack.enter_context(KeeperClient(keeper.url, TOKEN))
        self.setup(keeper, BUILTIN, ["small", "big"])
        readers = {BUILTIN: keeper.url}
        try:
            readers[NGINX] = self.nginx_edge(keeper)
        except PartFailed as exc:
            self.results.missing["nginx"] = str(exc)
            log(f"no nginx edge: {exc}")
        # One publish on each edge first, untimed: the first request of a
        # route, the first job, nginx's first reload pay for imports and
        # caches that no later publish does.
        for org, url in readers.items():
            self.publish_once(keeper, api, org, "small", SMALL_FILES, url)
        sizes = (("small", SMALL_FILES), ("big", self.options.big_files))
        for n in range(self.options.repeat):
            for product, files in sizes:
                for org, url in readers.items():
                    run = self.publish_once(keeper, api, org, product, files, url)
                    self.results.confirm.append(run)
                    log(
                        f"[{n + 1}/{self.options.repeat}] {org}, {files} files: "
                        f"staged in {run.staged:.1f}s; PATCH "
                        f"{run.patch * 1000:.1f} ms, complete {run.complete:.2f}s, "
                        f"published {run.published:.2f}s"
                    )

    def publish_once(
        self,
        keeper: Keeper,
        api: KeeperClient,
        org: str,
        product: str,
        files: int,
        url: str,
    ) -> ConfirmRun:
        """Stage a new build of ``files`` files, then time its confirmation
        and publishing, and check that the edge at ``url`` serves it."""
        label = self.label()
        folder = write_site(self.work / "sites" / label, files, label)
        started = time.perf_counter()
        build = stage(api, org, product, folder)
        staged = time.perf_counter() - started
        shutil.rmtree(folder)
        keeper.settle(self.options.timeout)
        run = self.confirm_one(keeper, org, product, build, files)
        run.staged = staged
        self.check_served(url, f"{product}.{org}.test", label)
        return run

    def confirm_one(
        self, keeper: Keeper, org: str, product: str, build: str, files: int
    ) -> ConfirmRun:
        client, auth = keeper.client, keeper.auth()
        base = f"/api/orgs/{org}/products/{product}"
        sent = time.time()
        patch = confirm(client, f"{base}/builds/{build}", auth)
        edition: dict[str, Any] = {}

        def published() -> bool:
            nonlocal edition
            edition = client.get(f"{base}/editions/__main").json()
            if edition["build_id"] != build:
                found = client.get(f"{base}/builds/{build}").json()
                if found["status"] == "failed":
                    raise PartFailed(f"build {build} failed: {found.get('error')}")
                return False
            if edition["publish_status"] == "failed":
                raise PartFailed(f"__main failed: {edition.get('publish_error')}")
            return bool(edition["publish_status"] == "published")

        wait_until(published, self.options.timeout, f"publishing {org}/{product}")
        done = client.get(f"{base}/builds/{build}").json()
        return ConfirmRun(
            org=org,
            files=files,
            patch=patch,
            complete=stamp(done["completed"]) - sent,
            published=stamp(edition["published_at"]) - sent,
        )

    def nginx_edge(self, keeper: Keeper) -> str:
        """The org ``nginx`` with an nginx edge recorded for an agent (as
        tests/edge/test_agent.py does), nginx running on the agent's files
        and the agent polling every ``--agent-interval`` seconds."""
        if find_executable("nginx") is None:
            raise PartFailed("nginx is not installed (apt-get install nginx)")
        self.setup(keeper, NGINX, ["small", "big"])
        client, auth = keeper.client, keeper.auth()
        port, out = free_port(), self.work / "nginx-edge"
        r = client.post(
            f"/api/orgs/{NGINX}/edges",
            headers=auth,
            json={"target": "nginx", "listen": f"127.0.0.1:{port}", "out": str(out)},
        )
        if r.status_code != 201:
            raise PartFailed(f"cannot record the edge: {r.status_code} {r.text}")
        edge = str(r.json()["id"])
        r = client.post(
            f"/api/orgs/{NGINX}/tokens", headers=auth, json={"role": "edge"}
        )
        if r.status_code != 201:
            raise PartFailed(f"cannot make an edge token: {r.text}")
        command = [str(tools.keeper()), "edge", "agent", "--keeper", keeper.url]
        command += ["--token", r.json()["token"], "--org", NGINX, "--edge", edge]
        first = subprocess.run(
            [*command, "--once"], capture_output=True, text=True, env=clean_env()
        )
        if first.returncode != 0:
            raise PartFailed(
                f"`keeper edge agent --once` exited {first.returncode}: "
                f"{(first.stderr or first.stdout).strip()[-800:]}"
            )
        self.stack.enter_context(running_nginx(out, port))
        agent_log = self.work / "agent.log"
        with agent_log.open("wb") as output:
            agent = subprocess.Popen(
                [*command, "--interval", str(self.options.agent_interval)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=clean_env(),
            )
        self.stack.callback(stop_process, agent)
        time.sleep(0.5)
        if agent.poll() is not None:
            raise PartFailed(
                f"`keeper edge agent` exited {agent.returncode}: {_tail(agent_log)}"
            )
        return f"http://127.0.0.1:{port}"

    def check_served(self, url: str, host: str, label: str) -> None:
        """The edge now serves the build (outside any timing)."""
        page = httpx.get(f"{url}/", headers={"Host": host}, timeout=30)
        if f"build {label}" not in page.text:
            raise PartFailed(
                f"{url} does not serve the published build for {host}: "
                f"{page.status_code} {page.text[:200]}"
            )

    # -- 2. and 3. workers, and reads meanwhile -----------------------------

    def workers_part(self) -> None:
        database = self.stack.enter_context(pg_database(self.options.pg_url))
        queue = f"bench-pipeline:{uuid.uuid4().hex}"
        # Runs once keeper serve and the workers stopped (an ExitStack
        # unwinds in reverse).
        self.stack.callback(drop_queue, self.options.redis_url, queue)
        env = {
            **self.storage_env("pg"),
            "KEEPER_DATABASE_URL": database,
            "KEEPER_REDIS_URL": self.options.redis_url,
            "KEEPER_JOB_QUEUE_NAME": queue,
            # keeper serve signs upload URLs; every process agrees on the key.
            "KEEPER_SECRET_KEY": SECRET,
        }
        keeper = self.stack.enter_context(keeper_serve(self.work / "pg", env))
        api = self.stack.enter_context(KeeperClient(keeper.url, TOKEN))
        self.setup(keeper, LOAD, [])
        for count in self.options.workers:
            self.workers_round(keeper, api, env, count)

    def workers_round(
        self, keeper: Keeper, api: KeeperClient, env: dict[str, str], count: int
    ) -> None:
        n = self.options.products
        products = [f"w{count}-p{i:03d}" for i in range(n)]
        # Untimed, first: one build per drain the workers run, so that each
        # worker has done a job (imports, templates) before the timed ones.
        warm = [f"w{count}-warm{i}" for i in range(count * WORKER_CONCURRENCY)]
        self.setup(keeper, LOAD, warm + products, new=False)
        labels = {p: self.label() for p in warm + products}

        def staged(product: str) -> tuple[str, str]:
            label = labels[product]
            folder = write_site(self.work / "sites" / label, LOAD_FILES, label)
            build = stage(api, LOAD, product, folder, concurrency=4)
            shutil.rmtree(folder)
            return product, build

        def confirm_all(ids: dict[str, str]) -> list[float]:
            """Confirm every build, 8 requests at a time; each one's time."""
            with ThreadPoolExecutor(8) as pool:
                return list(
                    pool.map(
                        lambda p: confirm(
                            keeper.client,
                            f"/api/orgs/{LOAD}/products/{p}/builds/{ids[p]}",
                            keeper.auth(),
                        ),
                        ids,
                    )
                )

        with ExitStack() as stack:
            workers = [
                stack.enter_context(self.worker(env, f"{count}-{i}"))
                for i in range(count)
            ]
            check = partial(self.alive, workers)
            with ThreadPoolExecutor(4) as pool:
                confirm_all(dict(pool.map(staged, warm)))
                wait_published(keeper.engine, warm, check, self.options.timeout)
                builds = dict(pool.map(staged, products))
            log(f"{count} worker(s): {n} builds registered and uploaded")
            keeper.settle(self.options.timeout)
            reads = [f"/api/orgs/{LOAD}/products/{p}/editions/__main" for p in products]
            random.Random(count).shuffle(reads)
            rest = Latency("at rest", count)
            with Reader(keeper.url, reads, self.options.rate, rest):
                time.sleep(self.options.rest_seconds)
            busy = Latency("publishing", count)
            pids = {"serve": [keeper.process.pid]}
            pids["workers"] = [w.pid for w in workers]
            cpu_before = _cpu(pids)
            with Reader(keeper.url, reads, self.options.rate, busy):
                sent = time.time()
                started = time.perf_counter()
                patches = confirm_all(builds)
                confirmed = time.perf_counter() - started
                last = wait_published(
                    keeper.engine, products, check, self.options.timeout
                )
            cpu_after = _cpu(pids)
            self.alive(workers)
        run = WorkersRun(
            workers=count,
            products=n,
            confirm_all=confirmed,
            published=last - sent,
            cpu={k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_before},
            patch_ms=[p * 1000 for p in patches],
        )
        self.results.workers.append(run)
        self.results.latency += [rest, busy]
        log(
            f"{count} worker(s): {n} published in {run.published:.2f}s "
            f"({run.rate:.1f}/s); reads p50 {percentile(rest.ms, 50):.1f} ms at "
            f"rest, {percentile(busy.ms, 50):.1f} ms publishing"
        )
        for product in products:
            self.check_served(keeper.url, f"{product}.{LOAD}.test", labels[product])

    @contextmanager
    def worker(
        self, env: dict[str, str], name: str
    ) -> Iterator[subprocess.Popen[bytes]]:
        """A ``keeper worker``, once arq has started it (its first sweep of
        due jobs begins)."""
        folder = self.work / "pg"
        path = folder / f"worker-{name}.log"
        with path.open("wb") as output:
            process = subprocess.Popen(
                [str(tools.keeper()), "worker"],
                cwd=folder,
                env=clean_env(**env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._worker_logs[process.pid] = path
        try:

            def started() -> bool:
                self.alive([process])
                return "cron:run_due" in _tail(path, 100_000)

            wait_until(started, 60, "`keeper worker` starting")
            yield process
        finally:
            stop_process(process)

    def alive(self, workers: Sequence[subprocess.Popen[bytes]]) -> None:
        """Fail the part, with the end of its log, if a worker exited."""
        for worker in workers:
            if worker.poll() is not None:
                raise PartFailed(
                    f"`keeper worker` exited {worker.returncode}: "
                    f"{_tail(self._worker_logs[worker.pid])}"
                )

    def run(self) -> Results:
        for part, method in (
            ("confirm", self.confirm_part),
            ("workers", self.workers_part),
        ):
            if part not in self.options.only:
                continue
            try:
                method()
            except PartFailed as exc:
                self.results.missing[part] = str(exc)
                log(f"{part}: n/a: {exc}")
        return self.results


def wait_published(
    engine: Engine, products: list[str], check: Callable[[], None], timeout: float
) -> float:
    """Wait until every product's ``__main`` is published (asking the
    database, so that the wait adds no load to the API being timed), calling
    ``check`` meanwhile (it raises if the work cannot finish); returns the
    last ``published_at``."""
    with Session(engine) as session:
        ids = list(
            session.exec(select(Product.id).where(col(Product.slug).in_(products)))
        )
    mains = select(Edition).where(
        col(Edition.product_id).in_(ids),
        Edition.slug == "__main",
        col(Edition.build_id).is_not(None),
    )

    def done() -> bool:
        check()
        with Session(engine) as session:
            failed = session.exec(
                select(func.count()).where(
                    col(Build.product_id).in_(ids),
                    Build.status == BuildStatus.failed,
                )
            ).one()
            if failed:
                raise PartFailed(f"{failed} build(s) failed verification")
            editions = session.exec(mains).all()
            bad = [e for e in editions if e.publish_status == PublishStatus.failed]
            if bad:
                raise PartFailed(f"__main failed: {bad[0].publish_error}")
            return len(ids) == sum(
                e.publish_status == PublishStatus.published for e in editions
            )

    wait_until(done, timeout, f"publishing {len(products)} builds")
    with Session(engine) as session:
        stamps = [e.published_at for e in session.exec(mains)]
    return max(s.timestamp() for s in stamps if s is not None)


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    return {
        name: sum(cpu_seconds(pid) or 0.0 for pid in group)
        for name, group in pids.items()
    }


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A PostgreSQL database of this run's own (as the tests' ``pg_database``
    fixture makes), dropped at the end."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        admin.dispose()
        raise PartFailed(f"PostgreSQL not reachable at {admin_url}: {exc}") from exc
    name = f"bench_pipeline_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_ready(url: str) -> str | None:
    """Why Redis at ``url`` cannot be used, or None."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {url}: {exc}"
    finally:
        client.close()
    return None


def drop_queue(url: str, queue: str) -> None:
    """Delete the arq queue ``queue`` and what its entries left in Redis
    (nudges queued after the last worker stopped, the next sweep)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        found = cast(list[bytes], client.zrange(queue, 0, -1))  # sync client
        ids = [i.decode() for i in found]
        kinds = ("job", "in-progress", "retry", "result")
        keys = [f"arq:{kind}:{i}" for i in ids for kind in kinds]
        client.delete(queue, *keys)
    except redis.RedisError as exc:
        log(f"could not delete the queue {queue} from Redis: {exc}")
    finally:
        client.close()


# -- the table ------------------------------------------------------------------


def render(results: Results, options: Options, load: float) -> str:
    lines = [
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start; "
        f"builds stored in {STORES[options.store]}",
    ]
    lines += _confirm_table(results, options)
    lines += _workers_table(results, options)
    lines += _latency_table(results, options)
    for part, why in results.missing.items():
        lines.append(f"n/a: {part}: {why}")
    return "\n".join(lines)


def _confirm_table(results: Results, options: Options) -> list[str]:
    runs = results.confirm
    if not runs:
        return []
    big = options.big_files
    rows = [
        ["measure", "where", f"{SMALL_FILES} files", f"{big:,} files", "big ÷ small"]
    ]
    measures = (
        ("confirm request, ms", "PATCH …/builds/{id}", None, "patch", 1000.0),
        ("build complete, s", "verify_build job", None, "complete", 1.0),
        ("__main published, s", "built-in edge", BUILTIN, "published", 1.0),
        (
            "__main published, s",
            f"nginx + agent ({options.agent_interval:g}s)",
            NGINX,
            "published",
            1.0,
        ),
    )
    for label, where, org, metric, scale in measures:
        if org == NGINX and "nginx" in results.missing:
            rows.append([label, where, "n/a", "n/a", ""])
            continue
        small, large = (
            median(
                [
                    getattr(r, metric) * scale
                    for r in runs
                    if r.files == files and org in (None, r.org)
                ]
            )
            for files in (SMALL_FILES, big)
        )
        if small is None or large is None:
            continue
        fmt = ".1f" if scale > 1 else ".2f"
        rows.append(
            [
                label,
                where,
                format(small, fmt),
                format(large, fmt),
                f"{large / small:.2f}x",
            ]
        )
    return [
        "",
        "1. confirm → published: keeper serve with its embedded job runner, "
        f"SQLite; median of {options.repeat} run(s); times from sending the PATCH",
        *table(rows),
    ]


def _workers_table(results: Results, options: Options) -> list[str]:
    if not results.workers:
        return []
    first = results.workers[0]
    rows = [
        [
            "keeper worker",
            "drains",
            "confirm all s",
            "PATCH p50 ms",
            "all published s",
            "publishes/s",
            f"÷ {first.workers} worker",
            "CPU s serve",
            "CPU s workers",
        ]
    ]
    for run in results.workers:
        rows.append(
            [
                f"× {run.workers}",
                str(run.workers * WORKER_CONCURRENCY),
                f"{run.confirm_all:.2f}",
                f"{statistics.median(run.patch_ms):.1f}",
                f"{run.published:.2f}",
                f"{run.rate:.1f}",
                f"{run.rate / first.rate:.2f}x",
                f"{run.cpu.get('serve', 0.0):.1f}",
                f"{run.cpu.get('workers', 0.0):.1f}",
            ]
        )
    return [
        "",
        f"2. publishes per second: {options.products} products, one build of "
        f"{LOAD_FILES} files each, all confirmed at once (8 at a time); "
        "PostgreSQL, Redis, one keeper serve (queues only)",
        *table(rows),
    ]


def _latency_table(results: Results, options: Options) -> list[str]:
    if not results.latency:
        return []
    rows = [
        ["while", "workers", "requests", "errors", "p50 ms", "p99 ms"]
        + ["p50 ÷ rest", "p99 ÷ rest"]
    ]
    rest: Latency | None = None
    for lat in results.latency:
        if lat.label == "at rest":
            rest = lat
        row = [lat.label, f"× {lat.workers}", str(len(lat.ms)), str(lat.errors)]
        if not lat.ms:
            rows.append(row + ["–"] * 4)
            continue
        p50, p99 = percentile(lat.ms, 50), percentile(lat.ms, 99)
        row += [f"{p50:.1f}", f"{p99:.1f}"]
        if rest is not None and rest is not lat and rest.ms:
            row += [
                f"{p50 / percentile(rest.ms, 50):.2f}x",
                f"{p99 / percentile(rest.ms, 99):.2f}x",
            ]
        else:
            row += ["", ""]
        rows.append(row)
    return [
        "",
        f"3. API latency: GET …/editions/__main of those products at "
        f"{options.rate:g} req/s, from when each request was due",
        *table(rows),
    ]


# -- command line -----------------------------------------------------------------


QUICK = {"big_files": 1000, "products": 20, "repeat": 1, "rest_seconds": 4.0}
DEFAULTS = {"big_files": 10_000, "products": 100, "repeat": 2, "rest_seconds": 10.0}


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a look in about a minute: --big-files 1000 --products 20 "
        "--repeat 1 --rest-seconds 4 (explicit options still win)",
    )
    parser.add_argument(
        "--big-files", type=int, help="files of the big build (default 10000)"
    )
    parser.add_argument(
        "--repeat", type=int, help="confirmations of each size and edge (default 2)"
    )
    parser.add_argument(
        "--products", type=int, help="products published at once (default 100)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="keeper worker counts to measure (default 1 2)",
    )
    parser.add_argument(
        "--rate", type=float, default=50.0, help="edition reads per second"
    )
    parser.add_argument(
        "--rest-seconds",
        type=float,
        help="seconds of reads at rest before each publish (default 10)",
    )
    parser.add_argument(
        "--agent-interval",
        type=float,
        default=0.2,
        help="seconds between two looks of the edge agent at keeper",
    )
    parser.add_argument(
        "--store",
        choices=("file", "rclone"),
        default="file",
        help="where builds are stored: a local folder, or rclone serve s3",
    )
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="longest wait for a publish"
    )
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL, as an admin")
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis for arq")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--workdir", type=Path, help="work in this new folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else DEFAULTS
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.big_files < 20 or args.products < 1 or args.repeat < 1:
        parser.error("--big-files ≥ 20, --products ≥ 1 and --repeat ≥ 1")
    return Options(**vars(args))


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    load = os.getloadavg()[0]
    if load > 1.0:
        log(
            f"note: load average is {load:.1f} on {os.cpu_count()} CPUs; "
            "other work on this machine will show in the timings"
        )
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=False)
    work = options.workdir or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        with ExitStack() as stack:
            bench = Bench(options, work, stack)
            if "workers" in options.only and (why := redis_ready(options.redis_url)):
                bench.results.missing["workers"] = why
                options.only = [p for p in options.only if p != "workers"]
            results = bench.run()
    finally:
        if not options.keep and options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work folder kept: {work}")
    print(render(results, options, load))
    if options.json:
        body = {
            "options": {
                k: str(v) if isinstance(v, Path) else v
                for k, v in asdict(options).items()
            },
            "load_before": load,
            "load_after": os.getloadavg()[0],
            "results": asdict(results),
        }
        options.json.write_text(json.dumps(body, indent=2) + "\n")
        log(f"results written to {options.json}")
    return 0 if not results.missing else 1


if __name__ == "__main__":
    sys.exit(main())
