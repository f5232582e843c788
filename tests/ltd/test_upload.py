"""`ltd upload` end to end: a real `ltd` process against a real `keeper
serve`, on the filesystem store and on S3 over HTTP (moto and rclone)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOOTSTRAP
from tests.faults import FAULTS, FaultyProxy
from tests.keeper.test_served import serve, setup_product
from tests.objects import read_build
from tests.served import ServedKeeper
from tests.servers import S3Endpoint

BASE = "/api/orgs/lsst/products/pipelines"
AUTH = {"Authorization": f"Bearer {BOOTSTRAP}"}
#: Strip the CI variables of the machine running the tests: each test sets
#: the ones it is about.
CI_VARIABLES = re.compile(
    r"^(CI|GITHUB_.*|GITLAB_CI|CI_.*|JENKINS_URL|BUILD_URL|GIT_.*|CHANGE_.*|"
    r"TAG_NAME|TRAVIS.*|LTD_.*)$"
)


def ltd_binary() -> str:
    return str(Path(sys.executable).parent / "ltd")


def write_site(root: Path, files: int, label: str = "v1") -> dict[str, bytes]:
    """A Sphinx-like tree: pages in a few folders, shared static assets."""
    content: dict[str, bytes] = {
        "index.html": f"<h1>{label}</h1>".encode(),
        "_static/style.css": b"body { margin: 0 }" * 40,
        "_static/app.js": b"console.log(1);" * 50,
        "_images/logo.png": bytes(range(256)) * 8,
    }
    for i in range(files - len(content)):
        content[f"section{i % 17}/page{i}.html"] = (
            f"<p>{label} page {i}</p>".encode() + b"x" * (i % 300)
        )
    for path, data in content.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return content


@dataclass
class Served:
    client: httpx.Client
    url: str
    #: Reads objects back straight from storage, bypassing keeper.
    read_object: Callable[[str], bytes]

    def env(self, **extra: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not CI_VARIABLES.match(k)}
        return {
            **clean,
            "LTD_HOST": self.url,
            "LTD_TOKEN": BOOTSTRAP,
            "LTD_ORG": "lsst",
            "LTD_PRODUCT": "pipelines",
            **extra,
        }

    def ltd(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ltd_binary(), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def upload(
        self, site: Path, *args: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`ltd upload` of ``site`` from branch main, plus ``args``."""
        return self.ltd("upload", "--dir", str(site), "--git-ref", "main", *args, **env)

    def main_build(self) -> str | None:
        r = self.client.get(f"{BASE}/editions/__main")
        assert r.status_code == 200, r.text
        build: str | None = r.json()["build_id"]
        return build

    def build(self, build_id: str) -> dict[str, object]:
        r = self.client.get(f"{BASE}/builds/{build_id}")
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body


@pytest.fixture(params=["filesystem", "moto_s3", "rclone_s3"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    yield from _served(request.param, request, tmp_path)


def _served(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    proxy: FaultyProxy | None = None,
) -> Iterator[Served]:
    env: dict[str, str] = {}
    if backend == "filesystem":
        storage = tmp_path / "keeper" / "keeper-data" / "storage"

        def read_object(key: str) -> bytes:
            return (storage / key).read_bytes()

    else:
        endpoint: S3Endpoint = request.getfixturevalue(backend)
        bucket = endpoint.new_bucket()
        env = endpoint.keeper_env(bucket, via=proxy.url if proxy else None)
        s3 = endpoint.client()

        def read_object(key: str) -> bytes:
            body: bytes = s3.get_object(Bucket=bucket, Key=f"sites/{key}")[
                "Body"
            ].read()
            return body

    for client in serve(tmp_path / "keeper", env):
        setup_product(client)
        yield Served(client, str(client.base_url).rstrip("/"), read_object)


def assert_stored(served: Served, build_id: str, files: dict[str, bytes]) -> None:
    """The build's manifest object names exactly ``files``, and each one's
    content-addressed object holds its bytes."""
    read = served.read_object
    assert read_build(read, "lsst/pipelines", build_id) == files


def build_id_of(output: str) -> str:
    match = re.search(r"build (\w+):", output)
    assert match, output
    return match.group(1)


def test_upload_publishes_main_and_an_unchanged_rerun_sends_nothing(
    served: Served, tmp_path: Path
) -> None:
    files = write_site(tmp_path / "html", 2000)
    done = served.upload(tmp_path / "html")
    assert done.returncode == 0, done.stderr
    assert "__main: https://pipelines.lsst.io/" in done.stdout
    first = build_id_of(done.stderr)
    assert "sent 2000 files" in done.stderr
    assert served.main_build() == first
    assert served.build(first)["file_count"] == 2000
    assert_stored(served, first, files)

    again = served.upload(tmp_path / "html")
    assert again.returncode == 0, again.stderr
    assert "sent 0 files (0 B), reused 2000" in again.stderr
    second = build_id_of(again.stderr)
    assert second != first
    assert served.main_build() == second


def test_only_changed_files_are_sent(served: Served, tmp_path: Path) -> None:
    write_site(tmp_path / "html", 200)
    assert served.upload(tmp_path / "html").returncode == 0
    (tmp_path / "html" / "index.html").write_text("<h1>changed</h1>")
    (tmp_path / "html" / "new.html").write_text("<p>new</p>")
    done = served.upload(tmp_path / "html")
    assert done.returncode == 0, done.stderr
    assert "sent 2 files" in done.stderr
    assert "reused 199" in done.stderr


@pytest.fixture(params=["filesystem", "moto_s3", "rclone_s3"])
def faulty(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Served, FaultyProxy]]:
    backend = request.param
    if backend == "filesystem":
        # Keeper receives the uploads itself: put the proxy in front of it.
        served_gen = _served_behind_proxy(request, tmp_path)
        yield from served_gen
        return
    endpoint: S3Endpoint = request.getfixturevalue(backend)
    proxy = FaultyProxy(endpoint.endpoint_url)
    with proxy.running():
        for served in _served(backend, request, tmp_path, proxy):
            yield served, proxy


def _served_behind_proxy(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Served, FaultyProxy]]:
    from tests.servers import free_port

    port = free_port()
    proxy = FaultyProxy(f"http://127.0.0.1:{port}")
    storage = tmp_path / "keeper" / "keeper-data" / "storage"
    with proxy.running():
        env = {"KEEPER_BASE_URL": proxy.url}
        for client in serve(tmp_path / "keeper", env, port=port):
            setup_product(client)
            yield (
                Served(client, proxy.url, lambda key: (storage / key).read_bytes()),
                proxy,
            )


def test_a_faulty_network_still_ends_in_a_complete_verified_build(
    faulty: tuple[Served, FaultyProxy], tmp_path: Path
) -> None:
    served, proxy = faulty
    files = write_site(tmp_path / "html", 150)
    done = served.upload(
        tmp_path / "html",
        "--concurrency",
        "8",
    )
    assert done.returncode == 0, done.stderr
    build = build_id_of(done.stderr)
    assert served.build(build)["status"] == "complete"
    assert served.main_build() == build
    assert_stored(served, build, files)
    assert set(proxy.injected) == set(FAULTS), proxy.injected
    assert sum(proxy.injected.values()) >= 40
    assert re.search(r"\d+ retries", done.stderr)


def test_a_killed_upload_changes_no_edition_and_a_rerun_resumes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    endpoint: S3Endpoint = request.getfixturevalue("moto_s3")
    proxy = FaultyProxy(endpoint.endpoint_url, share=0.0, delay=0.05)
    with proxy.running():
        for served in _served("moto_s3", request, tmp_path, proxy):
            site = tmp_path / "html"
            write_site(site, 300, label="v1")
            first = served.upload(site)
            assert first.returncode == 0, first.stderr
            published = served.main_build()

            files = write_site(site, 300, label="v2")
            stored_before = proxy.stored
            process = subprocess.Popen(
                [
                    ltd_binary(),
                    "upload",
                    "--dir",
                    str(site),
                    "--git-ref",
                    "main",
                    "--concurrency",
                    "2",
                ],
                env=served.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 60
            while proxy.stored - stored_before < 20:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.wait()
            sent_before_kill = proxy.stored - stored_before
            assert served.main_build() == published

            proxy.delay = 0.0
            rerun = served.upload(site)
            assert rerun.returncode == 0, rerun.stderr
            assert "resum" in rerun.stderr
            sent = int(re.search(r"sent (\d+) files", rerun.stderr).group(1))  # type: ignore[union-attr]
            changed = 300 - 3  # every page names its label; the assets do not
            assert sent <= changed - sent_before_kill + 2  # in flight at the kill
            build = build_id_of(rerun.stderr)
            assert served.main_build() == build != published
            assert_stored(served, build, files)


def test_ci_annotations_and_ref_come_from_the_ci_environment(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for served in _served("filesystem", request, tmp_path):
        write_site(tmp_path / "html", 10)
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": 42}}))
        done = served.ltd(
            "upload",
            "--dir",
            str(tmp_path / "html"),
            GITHUB_ACTIONS="true",
            GITHUB_EVENT_NAME="pull_request",
            GITHUB_REF="refs/pull/42/merge",
            GITHUB_HEAD_REF="tickets/DM-1",
            GITHUB_SHA="0123456789abcdef0123456789abcdef01234567",
            GITHUB_SERVER_URL="https://github.com",
            GITHUB_REPOSITORY="lsst/pipelines",
            GITHUB_RUN_ID="99",
            GITHUB_EVENT_PATH=str(event),
        )
        assert done.returncode == 0, done.stderr
        build = served.build(build_id_of(done.stderr))
        assert build["git_ref"] == "tickets/DM-1"
        ci = build["ci"]
        assert isinstance(ci, dict)
        assert ci["pr_number"] == 42
        assert ci["commit"] == "0123456789abcdef0123456789abcdef01234567"
        assert ci["run_url"] == "https://github.com/lsst/pipelines/actions/runs/99"
        # A branch no edition tracks gets a draft edition (LTD drops "tickets/").
        assert re.search(
            r"^DM-1: https://pipelines\.lsst\.io/v/DM-1/$", done.stdout, re.M
        )


def test_github_output_names_the_build_and_its_urls(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for served in _served("filesystem", request, tmp_path):
        write_site(tmp_path / "html", 10)
        out = tmp_path / "github-output"
        out.write_text("")
        done = served.upload(
            tmp_path / "html",
            "--github-output",
            GITHUB_OUTPUT=str(out),
        )
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        assert f"build-id={build_id_of(done.stderr)}\n" in text
        assert "url=https://pipelines.lsst.io/\n" in text
        assert "urls<<LTD_URLS_EOF\nhttps://pipelines.lsst.io/\nLTD_URLS_EOF\n" in text


# -- errors a person can act on ------------------------------------------------


@pytest.fixture(scope="module")
def shared(keeper_server: ServedKeeper) -> Served:
    """One keeper for the error cases, with org lsst, product pipelines and
    a reader token."""
    client = keeper_server.client
    if client.get(f"{BASE}").status_code == 404:
        setup_product(client)
    return Served(client, keeper_server.url, lambda key: b"")


def reader_token(served: Served) -> str:
    r = served.client.post(
        "/api/orgs/lsst/tokens", headers=AUTH, json={"role": "reader"}
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["--product", "nope"], {}, 3, "nope"),
        (["--org", "nobody"], {}, 3, "nobody"),
        ([], {"LTD_TOKEN": "not-a-token"}, 4, "did not accept the token"),
        ([], {"LTD_HOST": "http://127.0.0.1:9"}, 5, "cannot reach keeper"),
        ([], {"LTD_TOKEN": ""}, 2, "missing --token / LTD_TOKEN"),
    ],
    ids=["unknown-product", "unknown-org", "bad-token", "unreachable", "no-token"],
)
def test_configuration_errors_have_distinct_exit_codes(
    shared: Served,
    tmp_path: Path,
    args: list[str],
    env: dict[str, str],
    code: int,
    message: str,
) -> None:
    write_site(tmp_path / "html", 5)
    done = shared.upload(tmp_path / "html", *args, **env)
    assert done.returncode == code, done.stderr
    assert message in done.stderr


def test_a_token_without_the_uploader_role_gets_exit_4(
    shared: Served, tmp_path: Path
) -> None:
    write_site(tmp_path / "html", 5)
    done = shared.upload(
        tmp_path / "html",
        LTD_TOKEN=reader_token(shared),
    )
    assert done.returncode == 4, done.stderr
    assert "lacks the role" in done.stderr


@pytest.mark.parametrize("problem", ["empty", "symlink-out", "missing"])
def test_a_site_that_cannot_be_published_gets_exit_6_and_registers_nothing(
    shared: Served, tmp_path: Path, problem: str
) -> None:
    site = tmp_path / "html"
    if problem == "empty":
        (site / "sub").mkdir(parents=True)
    elif problem == "symlink-out":
        write_site(site, 5)
        (tmp_path / "secret").write_text("s3cr3t")
        (site / "leak.txt").symlink_to(tmp_path / "secret")
    before = shared.client.get(f"{BASE}/builds", params={"limit": 100}).json()
    done = shared.upload(site)
    assert done.returncode == 6, done.stderr
    assert {
        "empty": "contains no files",
        "symlink-out": "outside the directory",
        "missing": "does not exist",
    }[problem] in done.stderr
    after = shared.client.get(f"{BASE}/builds", params={"limit": 100}).json()
    assert after == before


def test_skip_exits_0_without_needing_anything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not CI_VARIABLES.match(k)}
    done = subprocess.run(
        [ltd_binary(), "upload"],
        env={**env, "LTD_SKIP_UPLOAD": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "skipping the upload" in done.stderr


def test_no_git_ref_outside_ci_and_git_is_a_usage_error(
    shared: Served, tmp_path: Path
) -> None:
    write_site(tmp_path / "html", 5)
    done = subprocess.run(
        [ltd_binary(), "upload", "--dir", str(tmp_path / "html")],
        env={**shared.env(), "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "pass --git-ref" in done.stderr


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_progress_as_a_bar_or_as_log_lines(
    shared: Served, tmp_path: Path, flag: str
) -> None:
    write_site(tmp_path / "html", 30, label=flag)
    done = shared.upload(tmp_path / "html", flag)
    assert done.returncode == 0, done.stderr
    # The shared assets may be reused from the other case: count what is sent.
    sent = re.search(r"sent (\d+) files", done.stderr)
    assert sent, done.stderr
    n = sent.group(1)
    if flag == "--progress":
        assert f"{n}/{n} files" in done.stderr
        assert f"uploaded {n}/{n}" not in done.stderr
    else:
        assert f"uploaded {n}/{n} files" in done.stderr
    assert "verifying" in done.stderr


# -- what gets published ------------------------------------------------------


def test_sphinx_leftovers_and_excluded_files_are_not_published(
    shared: Served, tmp_path: Path
) -> None:
    site = tmp_path / "html"
    published = write_site(site, 10, label="selection")
    leftovers = {
        ".buildinfo": b"config: 1",
        ".doctrees/environment.pickle": b"p" * 500,
        ".doctrees/api/index.doctree": b"d" * 400,
        "_static/app.js.map": b"m" * 100,
        "en/_static/app.js.map": b"m" * 100,
        "drafts/wip.html": b"<p>wip</p>",
        "en/drafts/more/wip.html": b"<p>wip</p>",
    }
    kept = {"_static/keep.js.map": b"k" * 100, "drafts.html": b"<p>not a folder</p>"}
    for path, data in {**leftovers, **kept}.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(data)
    done = shared.upload(
        site,
        "--exclude",
        "*.map",
        "--exclude",
        "drafts/",
        "--include",
        "_static/keep.js.map",
    )
    assert done.returncode == 0, done.stderr
    assert "(skipped 7); git ref main" in done.stderr
    assert done.stderr.rstrip().endswith(
        "; skipped 7 files (1.1 KB): .doctrees/ (2), --exclude '*.map' (2), "
        "--exclude drafts/ (2), .buildinfo (1)"
    )
    build = shared.build(build_id_of(done.stderr))
    files = {**published, **kept}
    assert build["file_count"] == len(files)
    assert build["total_size"] == sum(len(data) for data in files.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exclude", ""], "Invalid value for '--exclude': empty pattern"),
        (["--include", "x" * 1025], "is 1025 characters long; at most 1024"),
        (["--exclude", "drafts\\*"], "separate folders with '/'"),
        (
            [arg for i in range(101) for arg in ("--exclude", f"p{i}")],
            "--exclude was given 101 times; at most 100",
        ),
    ],
    ids=["empty", "too-long", "backslash", "too-many"],
)
def test_unusable_patterns_are_usage_errors_and_register_nothing(
    shared: Served, tmp_path: Path, args: list[str], message: str
) -> None:
    write_site(tmp_path / "html", 5)
    before = shared.client.get(f"{BASE}/builds", params={"limit": 100}).json()
    done = shared.upload(tmp_path / "html", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    after = shared.client.get(f"{BASE}/builds", params={"limit": 100}).json()
    assert after == before
