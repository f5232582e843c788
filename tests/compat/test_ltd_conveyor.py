"""The released ltd-conveyor 0.8 publishes, unchanged, to a real
``keeper serve``: ``ltd upload --gh`` as a GitHub Actions job runs it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.compat.released_client import ltd_command
from tests.keeper.test_served import AUTH, BASE, serve, setup_product
from tests.objects import read_build
from tests.publishing import Files
from tests.servers import S3Endpoint

SITE: Files = {
    "index.html": b"<!doctype html><h1>Pipelines</h1>",
    "404.html": b"<p>not found</p>",
    "_static/style.css": b"body { color: black }",
    "_static/logo.png": bytes(range(256)) * 40,
    "_sources/index.rst.txt": b"Pipelines\n=========\n",
    "api/index.html": b"<h1>API</h1>",
    "api/deep/er/page.html": b"<p>deep</p>",
    "search index.js": b"Search.setIndex({})",
    "objects.inv": b"# Sphinx inventory\n\x78\x9c\x00",
    "empty.txt": b"",
}

#: Reads every object of one build back from the store under test.
Reader = Callable[[str], Files]


@pytest.fixture(scope="session")
def ltd() -> Path:
    return ltd_command()


def write_site(folder: Path, files: Files) -> Path:
    for path, data in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def uploader_token(client: httpx.Client) -> str:
    response = client.post(
        "/api/orgs/lsst/tokens",
        headers=AUTH,
        json={"role": "uploader", "name": "github-actions"},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def ltd_upload(
    ltd: Path, url: str, token: str, site: Path, ref: str = "refs/heads/main"
) -> subprocess.CompletedProcess[str]:
    # A CI job's environment, and nothing of ours (no AWS keys, no venv).
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(site.parent),
        "LTD_HOST": url,
        "LTD_USERNAME": "ci-bot",
        "LTD_PASSWORD": token,
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": ref,
    }
    return subprocess.run(
        [str(ltd), "upload", "--product", "pipelines", "--gh", "--dir", str(site)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def newest_build(client: httpx.Client) -> dict[str, object]:
    response = client.get(f"{BASE}/builds", params={"limit": 1})
    assert response.status_code == 200, response.text
    build: dict[str, object] = response.json()[0]
    return build


def manifest_reader(read_key: Callable[[str], bytes], product: str) -> Reader:
    """A build's files as keeper stores them, read straight from the store:
    the paths its manifest object names, each one's bytes from the
    content-addressed object of its sha256 (which they must hash to, at
    the size the manifest gives). A stray object, such as a directory
    marker, recorded as a file would show up as an extra path."""

    def read(build_id: str) -> Files:
        return read_build(read_key, product, build_id)

    return read


def main_build_id(client: httpx.Client) -> object:
    return client.get(f"{BASE}/editions/__main").json()["build_id"]


def publish_twice(
    ltd: Path, client: httpx.Client, tmp_path: Path, read: Reader
) -> None:
    """Two ``ltd upload`` runs, each leaving __main on a complete build that
    holds exactly the site's files, byte for byte."""
    setup_product(client)
    token = uploader_token(client)
    url = str(client.base_url).rstrip("/")
    sites = [SITE, {**SITE, "index.html": b"<!doctype html><h1>Pipelines 2</h1>"}]
    seen: list[object] = []
    for run, files in enumerate(sites):
        folder = write_site(tmp_path / f"html-{run}", files)

        result = ltd_upload(ltd, url, token, folder)

        assert result.returncode == 0, result.stdout + result.stderr
        build = newest_build(client)
        assert build["status"] == "complete", build
        assert build["git_ref"] == "main"
        assert build["uploader"] == "ci-bot (github-actions)"
        assert build["file_count"] == len(files)
        assert main_build_id(client) == build["id"]
        assert read(str(build["id"])) == files
        seen.append(build["id"])
    assert seen[0] != seen[1]


def test_ltd_upload_to_the_filesystem_store(ltd: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "keeper"
    storage = workdir / "keeper-data" / "storage"

    def read_key(key: str) -> bytes:
        return (storage / key).read_bytes()

    for client in serve(workdir, {}):
        publish_twice(
            ltd, client, tmp_path, manifest_reader(read_key, "lsst/pipelines")
        )


@pytest.fixture
def s3_bucket(request: pytest.FixtureRequest) -> Iterator[tuple[S3Endpoint, str]]:
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    yield endpoint, endpoint.new_bucket()


def s3_reader(endpoint: S3Endpoint, bucket: str) -> Reader:
    s3 = endpoint.client()

    def read_key(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    return manifest_reader(read_key, "sites/lsst/pipelines")


@pytest.mark.s3server
@pytest.mark.parametrize("s3_bucket", ["moto_s3"], indirect=True)
def test_ltd_upload_with_presigned_posts_to_s3(
    ltd: Path, tmp_path: Path, s3_bucket: tuple[S3Endpoint, str]
) -> None:
    endpoint, bucket = s3_bucket
    for client in serve(tmp_path / "keeper", endpoint.keeper_env(bucket)):
        publish_twice(ltd, client, tmp_path, s3_reader(endpoint, bucket))


@pytest.mark.s3server
@pytest.mark.parametrize("s3_bucket", ["rclone_s3"], indirect=True)
def test_ltd_upload_to_rclone_goes_through_keeper(
    ltd: Path, tmp_path: Path, s3_bucket: tuple[S3Endpoint, str]
) -> None:
    """rclone serve s3 refuses presigned POSTs; told so, keeper receives the
    form uploads itself and writes them with ordinary S3 requests."""
    endpoint, bucket = s3_bucket
    env = endpoint.keeper_env(bucket, options="&presigned_post=false")
    for client in serve(tmp_path / "keeper", env):
        publish_twice(ltd, client, tmp_path, s3_reader(endpoint, bucket))


@pytest.mark.s3server
@pytest.mark.parametrize("s3_bucket", ["rclone_s3"], indirect=True)
def test_ltd_upload_to_rclone_unannounced_fails_saying_why(
    ltd: Path, tmp_path: Path, s3_bucket: tuple[S3Endpoint, str]
) -> None:
    endpoint, bucket = s3_bucket
    for client in serve(tmp_path / "keeper", endpoint.keeper_env(bucket)):
        setup_product(client)
        folder = write_site(tmp_path / "html", SITE)

        result = ltd_upload(
            ltd, str(client.base_url).rstrip("/"), uploader_token(client), folder
        )

        assert result.returncode != 0
        assert "presigned_post=false" in result.stdout + result.stderr
        assert client.get(f"{BASE}/builds").json() == []
        assert main_build_id(client) is None
