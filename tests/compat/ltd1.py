"""Speak LTD Keeper 1.x the way ltd-conveyor 0.8 does, over any client.

The end-to-end tests run the real ``ltd`` command; these helpers let the
route tests follow the same steps in-process, where every answer can be
looked at.
"""

from __future__ import annotations

import base64
import mimetypes
import posixpath
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.publishing import Files

Client = TestClient | httpx.Client


def basic(username: str, password: str = "") -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def get_token(client: Client, secret: str, username: str = "ci") -> str:
    response = client.get("/token", headers=basic(username, secret))
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def folders(files: Files) -> list[str]:
    """Every folder of the site as 0.8 names them: "/" and "a/b/"."""
    names = {"/"}
    for path in files:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            names.add("/".join(parts[:depth]) + "/")
    return sorted(names)


def register(
    client: Client, token: str, product: str, git_refs: list[str], files: Files
) -> dict[str, Any]:
    response = client.post(
        f"/products/{product}/builds/",
        headers={**basic(token), "Accept": "application/vnd.ltdkeeper.v2+json"},
        json={"git_refs": git_refs, "directories": folders(files)},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def post_file(
    client: Client, target: dict[str, Any], filename: str, data: bytes
) -> httpx.Response:
    content_type = mimetypes.guess_type(filename, strict=False)[0]
    fields = {
        **target["fields"],
        "Content-Type": content_type or "application/octet-stream",
    }
    return client.post(target["url"], data=fields, files={"file": (filename, data)})


def upload(client: Client, build: dict[str, Any], files: Files) -> None:
    for path, data in sorted(files.items()):
        folder, name = posixpath.split(path)
        target = build["post_prefix_urls"][f"{folder}/" if folder else "/"]
        response = post_file(client, target, name, data)
        assert response.status_code == 204, response.text
    for target in build["post_dir_urls"].values():
        response = client.post(
            target["url"], data=target["fields"], files={"file": ("", b"")}
        )
        assert response.status_code == 204, response.text


def confirm(client: Client, token: str, build: dict[str, Any]) -> httpx.Response:
    return client.patch(
        build["self_url"], headers=basic(token), json={"uploaded": True}
    )


def publish(
    client: Client,
    secret: str,
    files: Files,
    *,
    product: str = "pipelines",
    git_refs: list[str] | None = None,
) -> dict[str, Any]:
    """Token, register, upload, markers, confirm: ``ltd upload`` in full."""
    token = get_token(client, secret)
    build = register(client, token, product, git_refs or ["main"], files)
    upload(client, build, files)
    response = confirm(client, token, build)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
