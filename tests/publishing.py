"""Helpers that publish builds through the HTTP API, as a client would."""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.settled import settle

Files = dict[str, bytes]


def guess_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def manifest_of(
    files: Files, types: Callable[[str], str] = guess_type
) -> list[dict[str, Any]]:
    return [
        {
            "path": path,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": types(path),
        }
        for path, data in sorted(files.items())
    ]


def site(label: str, *, pages: int = 3) -> Files:
    """A small site whose pages name ``label`` and share one stylesheet."""
    files = {f"page{i}.html": f"<p>{label} page {i}</p>".encode() for i in range(pages)}
    files["index.html"] = f"<h1>{label}</h1>".encode()
    files["_static/style.css"] = b"body { color: black }"
    return files


def create_lsst_pipelines(
    client: TestClient | httpx.Client, headers: dict[str, str]
) -> None:
    """The org ``lsst`` (sites under ``lsst.io``) and its product
    ``pipelines``, which most tests publish to."""
    r = client.post(
        "/api/orgs",
        headers=headers,
        json={"slug": "lsst", "title": "LSST", "base_domain": "lsst.io"},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/orgs/lsst/products",
        headers=headers,
        json={"slug": "pipelines", "title": "Pipelines"},
    )
    assert r.status_code == 201, r.text


def with_md5(files: Files) -> list[dict[str, Any]]:
    """The manifest ``ltd upload`` sends: with each file's MD5."""
    return [
        {**entry, "md5": hashlib.md5(files[entry["path"]]).hexdigest()}
        for entry in manifest_of(files)
    ]


def register(
    client: TestClient | httpx.Client,
    base: str,
    headers: dict[str, str],
    files: Files,
    git_ref: str = "main",
    *,
    types: Callable[[str], str] = guess_type,
    **extra: Any,
) -> dict[str, Any]:
    return register_manifest(
        client, base, headers, manifest_of(files, types), git_ref, **extra
    )


def register_manifest(
    client: TestClient | httpx.Client,
    base: str,
    headers: dict[str, str],
    manifest: list[dict[str, Any]],
    git_ref: str = "main",
    **extra: Any,
) -> dict[str, Any]:
    response = client.post(
        f"{base}/builds",
        headers=headers,
        json={"git_ref": git_ref, "manifest": manifest, **extra},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(
    client: TestClient | httpx.Client, build: dict[str, Any], files: Files
) -> None:
    """Send each file keeper asked for where its URL points: keeper itself
    (through ``client``), or an S3 server (straight over HTTP)."""
    own = str(client.base_url).rstrip("/") + "/"
    with httpx.Client() as direct:
        for item in build["uploads"]:
            sender = client if item["url"].startswith(own) else direct
            response = sender.request(
                item["method"],
                item["url"],
                headers=item["headers"],
                content=files[item["path"]],
            )
            assert response.status_code in (200, 204), response.text


def confirm(
    client: TestClient | httpx.Client, base: str, headers: dict[str, str], build_id: str
) -> httpx.Response:
    """Confirm the build and wait until keeper has verified it, as ``ltd
    upload`` does: keeper's answer when it refused the confirmation, else
    the build as it ended (``complete`` or ``failed``)."""
    url = f"{base}/builds/{build_id}"
    answer = client.patch(url, headers=headers, json={"status": "uploaded"})
    if answer.status_code not in (200, 202):
        return answer
    assert answer.json()["status"] in ("processing", "complete"), answer.text
    return verified(client, url, headers)


def verified(
    client: TestClient | httpx.Client,
    url: str,
    headers: dict[str, str],
    within: float = 60.0,
) -> httpx.Response:
    """The build at ``url`` once it is no longer ``processing``."""
    deadline = time.monotonic() + within
    while True:
        if isinstance(client, TestClient):
            settle(client)
        found = client.get(url, headers=headers)
        assert found.status_code == 200, found.text
        if found.json()["status"] != "processing":
            return found
        assert time.monotonic() < deadline, f"still processing: {found.text}"
        time.sleep(0.05)


def failed_with(response: httpx.Response) -> str:
    """The error of a build that verification failed."""
    build = response.json()
    assert build["status"] == "failed", response.text
    error: str = build["error"]
    return error


def publish(
    client: TestClient | httpx.Client,
    base: str,
    headers: dict[str, str],
    files: Files,
    git_ref: str = "main",
    *,
    types: Callable[[str], str] = guess_type,
    **extra: Any,
) -> dict[str, Any]:
    """Register, upload and confirm one build; returns it complete, with
    the slugs of the editions showing it (``editions``)."""
    build = register(client, base, headers, files, git_ref, types=types, **extra)
    upload(client, build, files)
    response = confirm(client, base, headers, build["id"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "complete", response.text
    # The editions now showing it, as ``ltd upload`` reports them.
    listed = client.get(f"{base}/editions", headers=headers, params={"limit": 100})
    body["editions"] = sorted(
        e["slug"] for e in listed.json() if e["build_id"] == body["id"]
    )
    return body
