"""A stand-in for the part of GitHub's REST API that `ltd github comment`
uses, served by uvicorn on loopback so the client talks real HTTP.

It is strict where GitHub is (the auth header, the media type, 100 items a
page, ``Link`` pagination, who may edit what) and records every request, so
tests can check what was asked as well as what changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.servers import free_port

BOT = "github-actions[bot]"
#: token → (login, may write). The read-only one is what a workflow gets
#: without ``permissions: pull-requests: write`` (or from a fork).
TOKENS = {"gh-write-token": (BOT, True), "gh-read-token": (BOT, False)}
REPO = "lsst/docs"
BROKEN_REPO = "lsst/broken"  # answers 500 to everything


@dataclass
class Comment:
    id: int
    repo: str
    number: int
    body: str
    login: str

    def json(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "body": self.body,
            "user": {
                "login": self.login,
                "type": "Bot" if "[bot]" in self.login else "User",
            },
            "html_url": f"https://github.com/{self.repo}/pull/{self.number}"
            f"#issuecomment-{self.id}",
            "url": f"{base}/repos/{self.repo}/issues/comments/{self.id}",
        }


@dataclass
class FakeGitHub:
    url: str = ""
    comments: dict[int, Comment] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000

    def reset(self) -> None:
        self.comments.clear()
        self.requests.clear()

    def add(
        self, number: int, body: str, login: str = "alice", repo: str = REPO
    ) -> int:
        self.next_id += 1
        self.comments[self.next_id] = Comment(self.next_id, repo, number, body, login)
        return self.next_id

    def on(self, number: int, repo: str = REPO) -> list[Comment]:
        return sorted(
            (c for c in self.comments.values() if (c.repo, c.number) == (repo, number)),
            key=lambda c: c.id,
        )

    def calls(self, method: str) -> list[str]:
        return [path for m, path in self.requests if m == method]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": "https://docs.github.com/rest"},
        status_code=status,
    )


def make_app(state: FakeGitHub) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def check(request: Request, call_next: Any) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        state.requests.append((request.method, request.url.path + query))
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in TOKENS:
            return _error(401, "Bad credentials")
        if request.headers.get("accept") != "application/vnd.github+json":
            return _error(415, "Unsupported 'Accept' header")
        if not request.headers.get("x-github-api-version"):
            return _error(400, "X-GitHub-Api-Version header missing")
        path = request.url.path
        if path.startswith(f"/repos/{BROKEN_REPO}/"):
            return _error(500, "Server Error")
        if not path.startswith(f"/repos/{REPO}/"):
            return _error(404, "Not Found")
        if request.method != "GET" and not TOKENS[token][1]:
            return _error(403, "Resource not accessible by integration")
        request.state.login = TOKENS[token][0]
        response: Response = await call_next(request)
        return response

    @app.get("/repos/{owner}/{name}/issues/{number}/comments")
    def list_comments(
        owner: str,
        name: str,
        number: int,
        request: Request,
        per_page: int = 30,
        page: int = 1,
    ) -> Response:
        per_page = min(per_page, 100)
        found = state.on(number, f"{owner}/{name}")
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            nxt = f"{state.url}{request.url.path}?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return JSONResponse([c.json(state.url) for c in chunk], headers=headers)

    @app.post("/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
    async def create_comment(
        owner: str, name: str, number: int, request: Request
    ) -> dict[str, Any]:
        body = (await request.json())["body"]
        new = state.add(number, body, request.state.login, f"{owner}/{name}")
        return state.comments[new].json(state.url)

    @app.patch(
        "/repos/{owner}/{name}/issues/comments/{comment_id}", response_model=None
    )
    async def update_comment(
        owner: str, name: str, comment_id: int, request: Request
    ) -> dict[str, Any] | JSONResponse:
        comment = state.comments.get(comment_id)
        if comment is None:
            return _error(404, "Not Found")
        if comment.login != request.state.login:
            return _error(403, "You cannot edit someone else's comment")
        comment.body = (await request.json())["body"]
        return comment.json(state.url)

    @app.delete(
        "/repos/{owner}/{name}/issues/comments/{comment_id}", response_model=None
    )
    def delete_comment(
        owner: str, name: str, comment_id: int, request: Request
    ) -> Response:
        comment = state.comments.get(comment_id)
        if comment is None:
            return _error(404, "Not Found")
        if comment.login != request.state.login:
            return _error(403, "You cannot delete someone else's comment")
        del state.comments[comment_id]
        return Response(status_code=204)

    return app


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    port = free_port()
    state.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(state), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the GitHub stand-in did not start")
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
