"""Several keepers as one service: two `keeper serve` behind an nginx
balancer and two `keeper worker` on one PostgreSQL, one Redis and one
`rclone serve s3`, with an nginx edge kept current by `keeper edge agent`.

20 `ltd upload` runs at once over 5 products go through the balancer; then
a worker is killed with SIGKILL in the middle of a job, which the other
worker finishes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOOTSTRAP, _truncate_all
from tests.edge.nginx import running_nginx
from tests.ltd.test_upload import CI_VARIABLES, ltd_binary
from tests.served import keeper_binary, served_keeper
from tests.servers import (
    eventually,
    find_executable,
    free_port,
    rclone_s3_server,
    running_server,
    stop_process,
)

PRODUCTS = [f"p{i}" for i in range(5)]
#: Four uploads per product: two of main, two releases.
UPLOADS = [("main", "m1"), ("main", "m2"), ("v1.0.0", "r10"), ("v1.1.0", "r11")]
AUTH = {"Authorization": f"Bearer {BOOTSTRAP}"}
#: An org template slow enough (a few seconds) to kill a worker in its middle.
SLOW_TEMPLATE = (
    "{% set ns = namespace(n=0) %}"
    "{% for i in range(100000) %}{% for j in range(25) %}"
    "{% set ns.n = ns.n + 1 %}{% endfor %}{% endfor %}"
    "<p>counted {{ ns.n }}</p>"
)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    _truncate_all(pg_database)
    return pg_database


@contextmanager
def balancer(upstreams: list[int], port: int, workdir: Path) -> Iterator[Path]:
    """nginx spreading the API over ``upstreams``; yields its access log."""
    binary = find_executable("nginx")
    assert binary is not None
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    servers = "".join(f"server 127.0.0.1:{p};" for p in upstreams)
    (workdir / "nginx.conf").write_text(
        f"""
pid {workdir}/nginx.pid;
error_log {workdir}/logs/error.log warn;
events {{}}
http {{
  access_log {workdir}/logs/access.log;
  client_body_temp_path {workdir}/body;
  proxy_temp_path {workdir}/proxy;
  upstream keeper {{ {servers} }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 64m;
    location / {{
      proxy_pass http://keeper;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
    }}
  }}
}}
"""
    )
    command = [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf")]
    command += ["-e", str(workdir / "logs" / "error.log"), "-g", "daemon off;"]
    with running_server(command, f"http://127.0.0.1:{port}/api", name="balancer"):
        yield workdir / "logs" / "access.log"


def write_site(root: Path, label: str) -> Path:
    for path, text in {
        "index.html": f"<h1>{label}</h1>",
        "guide/index.html": f"<p>guide {label}</p>",
        "_static/s.css": "body { color: black }",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_replicas_workers_and_an_agent_publish_twenty_uploads(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    with ExitStack() as stack:
        s3 = stack.enter_context(rclone_s3_server(tmp_path / "s3", auth=False))
        bucket = s3.new_bucket()
        api_port = free_port()
        api = f"http://127.0.0.1:{api_port}"
        env = {
            **s3.keeper_env(bucket),
            "KEEPER_DATABASE_URL": pg_url,
            "KEEPER_REDIS_URL": redis_url,
            "KEEPER_JOB_QUEUE_NAME": f"keeper-test:{uuid.uuid4().hex}",
            # Every replica signs and checks the same upload URLs.
            "KEEPER_SECRET_KEY": "replicas-share-this-secret-key",
            "KEEPER_BASE_URL": api,
            "KEEPER_JOB_LEASE_SECONDS": "3",
            "KEEPER_TEMPLATE_CPU_SECONDS": "60",
            "KEEPER_TEMPLATE_WALL_SECONDS": "120",
        }
        replicas = [
            stack.enter_context(
                served_keeper(tmp_path / f"keeper{i}", env, settle=False)
            )
            for i in (1, 2)
        ]
        access_log = stack.enter_context(
            balancer(
                [int(k.url.rsplit(":", 1)[1]) for k in replicas],
                api_port,
                tmp_path / "balancer",
            )
        )
        workers = []
        for i in (1, 2):
            log = stack.enter_context((tmp_path / f"worker{i}.log").open("wb"))
            worker = subprocess.Popen(
                [keeper_binary(), "worker"],
                cwd=tmp_path,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop_process, worker)
            workers.append(worker)
        client = stack.enter_context(httpx.Client(base_url=api, timeout=60))

        r = client.post(
            "/api/orgs",
            headers=AUTH,
            json={"slug": "lsst", "title": "LSST", "base_domain": "lsst.io"},
        )
        assert r.status_code == 201, r.text
        for product in PRODUCTS:
            r = client.post(
                "/api/orgs/lsst/products",
                headers=AUTH,
                json={"slug": product, "title": product.upper()},
            )
            assert r.status_code == 201, r.text

        # The edge: nginx on this host, its files fetched by an agent.
        edge_port, out = free_port(), tmp_path / "edge"
        r = client.post(
            "/api/orgs/lsst/edges",
            headers=AUTH,
            json={
                "target": "nginx",
                "listen": f"127.0.0.1:{edge_port}",
                "out": str(out),
            },
        )
        assert r.status_code == 201, r.text
        edge = str(r.json()["id"])
        r = client.post("/api/orgs/lsst/tokens", headers=AUTH, json={"role": "edge"})
        token = r.json()["token"]
        agent = [keeper_binary(), "edge", "agent", "--keeper", api, "--token", token]
        agent += ["--org", "lsst", "--edge", edge]
        done = subprocess.run([*agent, "--once"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        stack.enter_context(running_nginx(out, edge_port))
        agent_log = stack.enter_context((tmp_path / "agent.log").open("wb"))
        running_agent = subprocess.Popen(
            [*agent, "--interval", "0.2"], stdout=agent_log, stderr=subprocess.STDOUT
        )
        stack.callback(stop_process, running_agent)

        # 20 uploads at once, each waiting until its editions are published
        # on the agent's edge.
        clean = {k: v for k, v in os.environ.items() if not CI_VARIABLES.match(k)}

        def upload(
            product: str, ref: str, label: str
        ) -> subprocess.CompletedProcess[str]:
            site = write_site(
                tmp_path / "sites" / f"{product}-{label}", f"{product} {label}"
            )
            return subprocess.run(
                [ltd_binary(), "upload", "--dir", str(site), "--git-ref", ref],
                env={
                    **clean,
                    "LTD_HOST": api,
                    "LTD_TOKEN": BOOTSTRAP,
                    "LTD_ORG": "lsst",
                    "LTD_PRODUCT": product,
                },
                capture_output=True,
                text=True,
                timeout=600,
            )

        jobs = [(p, ref, label) for p in PRODUCTS for ref, label in UPLOADS]
        with ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(lambda j: upload(*j), jobs))
        for job, result in zip(jobs, results, strict=True):
            assert result.returncode == 0, (job, result.stdout, result.stderr)

        reader = stack.enter_context(
            httpx.Client(base_url=f"http://127.0.0.1:{edge_port}", timeout=30)
        )
        for product in PRODUCTS:
            base = f"/api/orgs/lsst/products/{product}"
            builds = client.get(f"{base}/builds", params={"limit": 100}).json()
            complete = [b for b in builds if b["status"] == "complete"]
            assert len(complete) == 4, builds
            # Newest first: the first of main is the one its rule prefers.
            by_ref: dict[str, dict[str, object]] = {}
            for b in complete:
                by_ref.setdefault(str(b["git_ref"]), b)
            expected = {
                "__main": by_ref["main"],
                "1": by_ref["v1.1.0"],
                "1.0": by_ref["v1.0.0"],
                "1.1": by_ref["v1.1.0"],
            }
            host = {"Host": f"{product}.lsst.io"}
            for slug, build in expected.items():
                edition = client.get(f"{base}/editions/{slug}").json()
                assert edition["build_id"] == build["id"], (product, slug, edition)
                assert edition["publish_status"] == "published", edition
                history = client.get(f"{base}/editions/{slug}/history").json()
                moved_to = [h["build_id"] for h in history]
                assert len(moved_to) == len(set(moved_to)), history
                # The edge serves that very build under the edition's URL.
                path = "/" if slug == "__main" else f"/v/{slug}/"
                page = reader.get(path, headers=host)
                assert page.status_code == 200, (product, slug, page.text)
                itself = reader.get(f"/builds/{build['id']}/", headers=host)
                assert page.text == itself.text, (product, slug)
                assert page.text.startswith(f"<h1>{product} "), page.text

        # A worker killed in the middle of a job: the other one finishes it.
        r = client.put(
            "/api/orgs/lsst/templates/editions.html",
            headers=AUTH,
            json={"source": SLOW_TEMPLATE},
        )
        assert r.status_code == 200, r.text

        def idle() -> bool:
            busy = client.get(
                "/api/orgs/lsst/jobs",
                headers=AUTH,
                params={"status": ["queued", "running"]},
            ).json()
            # Every registration also queues its expiry, days away.
            return not [j for j in busy if j["kind"] != "collect_garbage"]

        # The renders the new template asked for are done: the next job
        # is caught as it starts, long before it ends.
        eventually(idle, within=180)
        r = client.patch(
            "/api/orgs/lsst/products/p0/editions/__main",
            headers=AUTH,
            json={"title": "Killed meanwhile"},
        )
        assert r.status_code == 200, r.text
        pids = {w.pid: w for w in workers}
        victim = _running_job(client, pids)
        job_id, pid = victim
        os.kill(pid, signal.SIGKILL)
        pids[pid].wait(timeout=30)

        def finished() -> bool:
            job = client.get(f"/api/orgs/lsst/jobs/{job_id}", headers=AUTH).json()
            return bool(job["status"] == "done")

        eventually(finished, within=120)
        job = client.get(f"/api/orgs/lsst/jobs/{job_id}", headers=AUTH).json()
        assert job["attempts"] >= 2, job

        def rendered() -> bool:
            page = reader.get("/v/", headers={"Host": "p0.lsst.io"})
            # Written whole, by the worker that finished the job.
            return page.status_code == 200 and "<p>counted 2500000</p>" in page.text

        eventually(rendered, within=120)

        # No request through the balancer got a 5xx.
        statuses = re.findall(r'" (\d{3}) ', access_log.read_text())
        assert statuses and not [s for s in statuses if s.startswith("5")]


def _running_job(
    client: httpx.Client, pids: dict[int, subprocess.Popen[bytes]]
) -> tuple[int, int]:
    """A render job running on one of ``pids``: its id and that pid."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = client.get(
            "/api/orgs/lsst/jobs", headers=AUTH, params={"status": "running"}
        ).json()
        for job in running:
            full = client.get(f"/api/orgs/lsst/jobs/{job['id']}", headers=AUTH)
            worker = full.json().get("worker") or ""
            match = re.match(r"[^:]*:(\d+):", worker)
            if match and int(match.group(1)) in pids:
                return int(job["id"]), int(match.group(1))
        time.sleep(0.05)
    raise AssertionError("no job was seen running on a worker")
