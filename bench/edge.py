"""Edge benchmark: requests per second and edition switch latency.

- nginx running the configuration ``keeper edge render --target nginx``
  writes, against nginx serving the same build folder directly (target
  ≥ 0.9×);
- the built-in edge in ``keeper serve`` against Starlette's ``StaticFiles``
  on the same folder, both one uvicorn worker (target ≥ 0.8×);
- how long an edition switch takes (the API call, and until the built-in
  edge and nginx show the new build) for a 10-file and a 10,000-file build
  (target: the same within noise; a switch writes a pointer, not objects).

Load comes from ``wrk`` (Debian's package; installed when missing and
running as root) cycling through the same URLs of the site for every server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import httpx

from bench.site import generate_site
from tests.servers import free_port, running_server

PARTS = ("nginx", "builtin", "switch")
ORG, DOMAIN, TOKEN = "bench", "docs.test", "bench-admin-token"
HOST = f"site.{DOMAIN}"


#: nginx serving one build folder as plainly as it can: the peer of the
#: generated configuration, with the same logging and socket settings so the
#: ratio measures the edge's logic and nothing else.
DIRECT_NGINX = """{user}
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  access_log {dir}/logs/access.log;
  sendfile on;
  tcp_nopush on;
  server_tokens off;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ try_files $uri $uri/index.html =404; }}
  }}
}}
"""


@dataclass
class Options:
    files: int
    seconds: int
    connections: int
    rounds: int
    switches: int
    json: Path | None
    workdir: Path | None
    only: list[str]


@dataclass
class Results:
    rps: dict[str, list[float]] = field(default_factory=dict)
    #: name → milliseconds of every switch.
    switch_ms: dict[str, list[float]] = field(default_factory=dict)

    def median_rps(self, name: str) -> float:
        return statistics.median(self.rps[name])


def log(message: str) -> None:
    print(f"[bench.edge] {message}", file=sys.stderr, flush=True)


def binary(name: str) -> str:
    for found in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if found and os.access(found, os.X_OK):
            return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {name} from Debian")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        package = {"nginx": "nginx-light"}.get(name, name)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package], env=env, check=True
        )
        return binary(name)
    raise SystemExit(f"{name} is not installed (apt-get install {name})")


class Bench:
    def __init__(self, options: Options, work: Path, stack: ExitStack) -> None:
        self.options = options
        self.work = work
        self.stack = stack
        self.results = Results()
        self.keeper_url = ""
        self.env = {
            **os.environ,
            "KEEPER_BOOTSTRAP_TOKEN": TOKEN,
            "LTD_TOKEN": TOKEN,
        }

    # -- setting up ------------------------------------------------------

    def keeper(self) -> None:
        port = free_port()
        self.keeper_url = f"http://127.0.0.1:{port}"
        self.env["KEEPER_BASE_URL"] = self.keeper_url
        keeper = str(Path(sys.executable).parent / "keeper")
        (self.work / "keeper").mkdir()
        self.stack.enter_context(
            running_server(
                [keeper, "serve", "--port", str(port)],
                f"{self.keeper_url}/api",
                name="keeper",
                env=self.env,
                cwd=self.work / "keeper",
            )
        )
        self.api = self.stack.enter_context(
            httpx.Client(
                base_url=f"{self.keeper_url}/api",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            )
        )
        self.api.post("/orgs", json={"slug": ORG, "title": "B", "base_domain": DOMAIN})
        for product in ("site", "small", "big"):
            r = self.api.post(
                f"/orgs/{ORG}/products", json={"slug": product, "title": product}
            )
            r.raise_for_status()

    def upload(self, product: str, folder: Path, ref: str = "main") -> str:
        ltd = str(Path(sys.executable).parent / "ltd")
        outputs = self.work / "ltd-outputs"
        outputs.write_text("")
        subprocess.run(
            [
                ltd,
                "upload",
                "--host",
                self.keeper_url,
                "--org",
                ORG,
                "--product",
                product,
                "--dir",
                str(folder),
                "--git-ref",
                ref,
                "--no-progress",
                "--github-output",
            ],
            env={**self.env, "GITHUB_OUTPUT": str(outputs)},
            check=True,
            capture_output=True,
        )
        found = re.search(r"^build-id=(\S+)$", outputs.read_text(), re.MULTILINE)
        if found is None:
            raise SystemExit("ltd upload did not report a build id")
        return found.group(1)

    def build_dir(self, product: str, build: str) -> Path:
        return (
            self.work / "keeper/keeper-data/storage" / ORG / product / "builds" / build
        )

    # -- requests per second ----------------------------------------------

    def wrk(self, name: str, port: int, paths: list[str], host: str | None) -> None:
        script = self.work / f"{name}.lua"
        header = f'{{["Host"] = "{host}"}}' if host else "{}"
        script.write_text(
            "local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
            "local i = 0\n"
            "request = function()\n  i = i + 1\n"
            f"  return wrk.format('GET', paths[(i % #paths) + 1], {header})\nend\n"
        )
        done = subprocess.run(
            [
                binary("wrk"),
                "-t1",
                f"-c{self.options.connections}",
                f"-d{self.options.seconds}s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        if "Non-2xx" in done.stdout:
            raise SystemExit(f"{name}: some answers were not 2xx/3xx:\n{done.stdout}")
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
        self.results.rps.setdefault(name, []).append(rate)
        log(f"{name}: {rate:,.0f} requests/s")

    def python_servers(self, build_root: Path, paths: list[str]) -> None:
        port = free_port()
        uvicorn = str(Path(sys.executable).parent / "uvicorn")
        with running_server(
            [
                uvicorn,
                "bench.static_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            f"http://127.0.0.1:{port}/",
            name="StaticFiles",
            env={
                **self.env,
                "STATIC_ROOT": str(build_root),
                "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            },
        ):
            keeper_port = int(self.keeper_url.rsplit(":", 1)[1])
            for _ in range(self.options.rounds):
                self.wrk("builtin", keeper_port, paths, HOST)
                self.wrk("staticfiles", port, paths, None)

    def nginx_servers(self, build_root: Path, paths: list[str]) -> None:
        nginx = binary("nginx")
        generated, direct = self.work / "nginx-edge", self.work / "nginx-direct"
        port, direct_port = free_port(), free_port()
        keeper = str(Path(sys.executable).parent / "keeper")
        subprocess.run(
            [
                keeper,
                "edge",
                "render",
                "--target",
                "nginx",
                "--org",
                ORG,
                "--listen",
                f"127.0.0.1:{port}",
                "--out",
                str(generated),
            ],
            env=self.env,
            cwd=self.work / "keeper",
            check=True,
            capture_output=True,
        )
        direct.mkdir()
        (direct / "logs").mkdir()
        (direct / "nginx.conf").write_text(
            DIRECT_NGINX.format(
                user="user root;" if os.geteuid() == 0 else "",
                dir=direct,
                port=direct_port,
                root=build_root,
            )
        )
        with (
            running_server(
                [
                    nginx,
                    "-p",
                    str(generated),
                    "-c",
                    str(generated / "nginx.conf"),
                    "-g",
                    "daemon off;",
                ],
                f"http://127.0.0.1:{port}/",
                name="nginx (generated)",
            ),
            running_server(
                [
                    nginx,
                    "-p",
                    str(direct),
                    "-c",
                    str(direct / "nginx.conf"),
                    "-g",
                    "daemon off;",
                ],
                f"http://127.0.0.1:{direct_port}/",
                name="nginx (direct)",
            ),
        ):
            if "nginx" in self.options.only:
                for _ in range(self.options.rounds):
                    self.wrk("nginx-generated", port, paths, HOST)
                    self.wrk("nginx-direct", direct_port, paths, None)
            if "switch" in self.options.only:
                self.switches(port)

    # -- switch latency ----------------------------------------------------

    def prepare_switches(self) -> None:
        """Two builds each of a 10-file and a 10,000-file product."""
        self.switch_builds: dict[str, tuple[str, str]] = {}
        for product, count in (("small", 10), ("big", 10_000)):
            folder = self.work / f"{product}-site"
            folder.mkdir()
            for i in range(count - 1):
                (folder / f"p{i // 500}" / f"{i}.html").parent.mkdir(exist_ok=True)
                (folder / f"p{i // 500}" / f"{i}.html").write_text(f"page {i}\n")
            ids = []
            for label in ("A", "B"):
                (folder / "index.html").write_text(f"<p>build {label}</p>\n")
                ids.append(self.upload(product, folder, ref="main"))
            self.switch_builds[product] = (ids[0], ids[1])
            log(f"{product}: builds of {count} files ready")

    def switches(self, nginx_port: int) -> None:
        keeper_port = int(self.keeper_url.rsplit(":", 1)[1])
        for product, (a, b) in self.switch_builds.items():
            host = f"{product}.{DOMAIN}"
            for n in range(self.options.switches):
                target, label = (a, "A") if n % 2 == 0 else (b, "B")
                start = time.perf_counter()
                r = self.api.patch(
                    f"/orgs/{ORG}/products/{product}/editions/__main",
                    json={"build": target},
                )
                r.raise_for_status()
                api = time.perf_counter()
                for name, port in (("builtin", keeper_port), ("nginx", nginx_port)):
                    wait_for(partial(shows, port, host, label))
                    seen = time.perf_counter()
                    self.results.switch_ms.setdefault(f"{product}/{name}", []).append(
                        (seen - start) * 1000
                    )
                self.results.switch_ms.setdefault(f"{product}/api", []).append(
                    (api - start) * 1000
                )

    # -- running -----------------------------------------------------------

    def run(self) -> Results:
        self.keeper()
        site = generate_site(
            self.work / "site",
            files=self.options.files,
            size=self.options.files * 20_000,
            seed=1,
        )
        build = self.upload("site", site.root)
        root = self.build_dir("site", build)
        paths = sorted("/" + f.path for f in site.files)[
            :: max(1, len(site.files) // 500)
        ]
        log(f"site of {len(site.files)} files published; {len(paths)} URLs under load")
        if "switch" in self.options.only:
            self.prepare_switches()
        if "builtin" in self.options.only:
            self.python_servers(root, paths)
        if {"nginx", "switch"} & set(self.options.only):
            self.nginx_servers(root, paths)
        return self.results


def shows(port: int, host: str, label: str) -> bool:
    answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": host})
    return f"build {label}" in answer.text


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("an edition switch never became visible")
        time.sleep(0.005)


def render(results: Results) -> str:
    rows: list[tuple[str, ...]] = [
        ("comparison", "ours req/s", "peer req/s", "ratio", "target", "")
    ]
    for ours, peer, target in (
        ("nginx-generated", "nginx-direct", 0.9),
        ("builtin", "staticfiles", 0.8),
    ):
        if ours not in results.rps:
            continue
        a, b = results.median_rps(ours), results.median_rps(peer)
        # Runs alternate between the two servers: the median of each pair's
        # ratio is steadier than the ratio of medians while other work on
        # the machine comes and goes.
        ratio = statistics.median(
            x / y for x, y in zip(results.rps[ours], results.rps[peer], strict=True)
        )
        rows.append(
            (
                f"{ours} / {peer}",
                f"{a:,.0f}",
                f"{b:,.0f}",
                f"{ratio:.2f}x",
                f">= {target}x",
                "PASS" if ratio >= target else "MISS",
            )
        )
    lines = table(rows) + [""]
    rows = [("switch (median ms)", "10 files", "10,000 files", "ratio")]
    for what in ("api", "builtin", "nginx") if results.switch_ms else ():
        small = statistics.median(results.switch_ms[f"small/{what}"])
        big = statistics.median(results.switch_ms[f"big/{what}"])
        label = {
            "api": "PATCH edition",
            "builtin": "visible on built-in edge",
            "nginx": "visible on nginx",
        }[what]
        rows.append((label, f"{small:.1f}", f"{big:.1f}", f"{big / small:.2f}x"))
    return "\n".join(lines + table(rows))


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return out


@contextmanager
def workdir(options: Options) -> Iterator[Path]:
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=False)
        yield options.workdir
    else:
        with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
            yield Path(tmp)


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.edge", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--files", type=int, default=1000, help="files in the served site"
    )
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="wrk runs per server, alternating (median)",
    )
    parser.add_argument(
        "--switches", type=int, default=20, help="switches per build size"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="measure only these parts (default: all)",
    )
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument(
        "--workdir", type=Path, help="work (and stay) in this new folder"
    )
    return Options(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> None:
    options = parse(argv)
    with workdir(options) as work, ExitStack() as stack:
        results = Bench(options, work, stack).run()
    print(render(results))
    if options.json:
        options.json.write_text(json.dumps(asdict(results), indent=2))


if __name__ == "__main__":
    main()
