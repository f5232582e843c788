"""Helpers that publish builds through the HTTP API, as a client would."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

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
    response = client.post(
        f"{base}/builds",
        headers=headers,
        json={"git_ref": git_ref, "manifest": manifest_of(files, types), **extra},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(
    client: TestClient | httpx.Client, build: dict[str, Any], files: Files
) -> None:
    for item in build["uploads"]:
        response = client.request(
            item["method"],
            item["url"],
            headers=item["headers"],
            content=files[item["path"]],
        )
        assert response.status_code in (200, 204), response.text


def confirm(
    client: TestClient | httpx.Client, base: str, headers: dict[str, str], build_id: str
) -> httpx.Response:
    return client.patch(
        f"{base}/builds/{build_id}", headers=headers, json={"status": "uploaded"}
    )


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
    """Register, upload and confirm one build; returns the confirmed build."""
    build = register(client, base, headers, files, git_ref, types=types, **extra)
    upload(client, build, files)
    response = confirm(client, base, headers, build["id"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
