"""What a build costs the edges that read prefixes (nginx, Varnish, Fastly):
the time to materialize it as plain files, on each store, against the
time to upload the same build in the first place (s5cmd cp of the same
files to the same store, where it is S3).

    .venv/bin/python -m bench.materialize                 # 5,000 files / 100 MB
    .venv/bin/python -m bench.materialize --files 500 --size-mb 10

Each store gets the site's files as content-addressed objects (keys
``p/_objects/<sha[:2]>/<sha>``), then ``keeper.services.builds.staging
.materialize`` writes ``p/builds/<id>/<path>`` for every file, timed, as
the verify_build job does when an org has such an edge. The built-in edge
needs none of it: it reads the objects through the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import tools
from bench.site import generate_site
from keeper.services.builds.materialize import materialize_build
from keeper.storage import FilesystemStore, ObjectStore, S3Store
from keeper.storage.s3 import make_client
from tests.servers import S3Endpoint, moto_s3_server, rclone_s3_server


@dataclass
class Row:
    store: str
    files: int
    seconds: float
    upload_seconds: float | None


def _load(store: ObjectStore, root: Path, paths: list[str]) -> list[Any]:
    """Put every file as its object; returns manifest rows for materialize."""

    def put(path: str) -> Any:
        data = (root / path).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        store.put(f"p/_objects/{sha[:2]}/{sha}", data, content_type=kind)
        return SimpleNamespace(path=path, sha256=sha, content_type=kind)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(put, paths))


def _timed_materialize(store: ObjectStore, files: list[Any]) -> float:
    product = SimpleNamespace(slug="p")
    build = SimpleNamespace(public_id="b1")
    started = time.monotonic()
    materialize_build(store, product, build, files)  # type: ignore[arg-type]
    return time.monotonic() - started


def _s5cmd(endpoint: S3Endpoint, bucket: str, root: Path) -> float | None:
    try:
        s5cmd = tools.s5cmd()
    except tools.ToolMissing:
        return None
    env = {
        "AWS_ACCESS_KEY_ID": endpoint.access_key,
        "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
        "AWS_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    command = [str(s5cmd), "--endpoint-url", endpoint.endpoint_url, "cp"]
    command += [f"{root}/*", f"s3://{bucket}/copy/"]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def _s3_store(endpoint: S3Endpoint, bucket: str) -> S3Store:
    client = make_client(
        endpoint_url=endpoint.endpoint_url,
        region="us-east-1",
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        addressing_style="path",
    )
    client.create_bucket(Bucket=bucket)
    return S3Store(bucket, "sites", client=client)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.materialize")
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--size-mb", type=float, default=100.0)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ltd-materialize-"))
    rows: list[Row] = []
    try:
        site = generate_site(
            work / "site", files=args.files, size=int(args.size_mb * 1e6), seed=1
        )
        paths = [f.path for f in site.files]
        folder = FilesystemStore(work / "folder")
        files = _load(folder, site.root, paths)
        rows.append(
            Row("filesystem", len(files), _timed_materialize(folder, files), None)
        )
        with ExitStack() as stack:
            servers = {
                "rclone": lambda: rclone_s3_server(work / "rclone"),
                "moto": moto_s3_server,
            }
            for name, server in servers.items():
                endpoint = stack.enter_context(server())
                store = _s3_store(endpoint, f"bench-{name}")
                files = _load(store, site.root, paths)
                upload = _s5cmd(endpoint, f"bench-{name}", site.root)
                rows.append(
                    Row(name, len(files), _timed_materialize(store, files), upload)
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"materializing one build of {args.files} files ({args.size_mb:.0f} MB) as "
        "plain files, for nginx/Varnish/Fastly:"
    )
    print(f"{'store':<12}{'seconds':>9}{'ms/file':>9}{'s5cmd cp s':>12}{'÷ s5cmd':>9}")
    for r in rows:
        per = 1000 * r.seconds / r.files
        up = f"{r.upload_seconds:.2f}" if r.upload_seconds else "–"
        ratio = f"{r.seconds / r.upload_seconds:.2f}" if r.upload_seconds else "–"
        print(f"{r.store:<12}{r.seconds:>9.2f}{per:>9.2f}{up:>12}{ratio:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
