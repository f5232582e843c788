"""The sliver of GitHub's REST API that keeps one preview comment on a pull
request up to date.

A comment is recognised by a hidden marker on its first line
(``<!-- ltd-preview-pipelines -->``), so each CI run edits the comment the
previous run wrote instead of adding another one to the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from conveyor import __version__
from conveyor.errors import (
    ConveyorError,
    NotFound,
    PermissionDenied,
    Rejected,
    Unreachable,
)
from conveyor.retry import Backoff, ClosingClient, request_with_retries

DEFAULT_API_URL = "https://api.github.com"
#: The REST API version these calls were written against; GitHub keeps
#: answering a pinned version the same way after it releases newer ones.
API_VERSION = "2022-11-28"
_PAGE = 100  # the most GitHub returns per page
_RETRY_STATUSES = frozenset({502, 503, 504})
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: ``--`` would end the HTML comment early and leak the rest into the page.
_MARKER = re.compile(r"^[A-Za-z0-9_.:/]+(?:-[A-Za-z0-9_.:/]+)*$")


def marker_tag(marker: str) -> str:
    """The hidden line that identifies our comment."""
    if not _MARKER.match(marker):
        raise ConveyorError(
            f"marker {marker!r} must be letters, digits and . _ : / - "
            "(no spaces, no '--'), e.g. ltd-preview-pipelines"
        )
    return f"<!-- {marker} -->"


class GitHubClient(ClosingClient):
    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        attempts: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.attempts = attempts
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"ltd/{__version__}",
            },
            timeout=httpx.Timeout(30.0),
            transport=transport,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        # Creating a comment is not idempotent: retry it only when the
        # request surely never left (a refused connection), not on a timeout
        # after which GitHub may have made it. The next run would still
        # remove a duplicate, but better not to make one.
        idempotent = method != "POST"
        response = request_with_retries(
            self._http,
            method,
            url,
            json=json,
            params=params,
            attempts=self.attempts,
            backoff=Backoff(base=0.5),
            retry_statuses=_RETRY_STATUSES if idempotent else frozenset(),
            retry_transport=lambda exc: (
                idempotent or isinstance(exc, httpx.ConnectError)
            ),
            unreachable=lambda exc: Unreachable(
                f"cannot reach GitHub at {self.api_url}: {exc!s} "
                "(check GITHUB_API_URL and the network)"
            ),
        )
        if response.is_success:
            return response
        raise _error(method, url, response)

    def paginate(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list, following ``Link: rel="next"``."""
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": _PAGE}
        while url is not None:
            response = self.request("GET", url, params=params)
            yield from response.json()
            url = self._next(response)
            params = None  # the next link carries its own query

    def _next(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        # The token goes with every request: never follow a link elsewhere.
        if not link.startswith(self.api_url + "/"):
            raise ConveyorError(f"GitHub sent a next-page link off its API: {link}")
        return link

    def issue_comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(f"{_repo_path(repo)}/issues/{number}/comments")

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        path = f"{_repo_path(repo)}/issues/{number}/comments"
        created: dict[str, Any] = self.request("POST", path, json={"body": body}).json()
        return created

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        path = f"{_repo_path(repo)}/issues/comments/{comment_id}"
        updated: dict[str, Any] = self.request(
            "PATCH", path, json={"body": body}
        ).json()
        return updated

    def delete_comment(self, repo: str, comment_id: int) -> None:
        self.request("DELETE", f"{_repo_path(repo)}/issues/comments/{comment_id}")


@dataclass
class CommentResult:
    action: Literal["created", "updated", "unchanged"]
    comment: dict[str, Any]
    #: Duplicates removed (two runs racing can each create one).
    removed: list[int] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        url = self.comment.get("html_url")
        return str(url) if url else None


def upsert_comment(
    client: GitHubClient, *, repo: str, number: int, marker: str, body: str
) -> CommentResult:
    """Make the pull request carry exactly one comment with ``marker``, whose
    text is ``body``: create it, or edit the one a previous run made."""
    tag = marker_tag(marker)
    text = f"{tag}\n{body.rstrip()}\n"
    # Ours start with the marker; someone quoting our comment in theirs
    # has it after a "> " and is left alone.
    ours = [
        c
        for c in client.issue_comments(repo, number)
        if str(c.get("body") or "").lstrip().startswith(tag)
    ]
    if not ours:
        return CommentResult("created", client.create_comment(repo, number, text))
    ours.sort(key=lambda c: int(c["id"]))
    keep, extra = ours[0], ours[1:]
    author = _login(keep)
    removed = []
    for duplicate in extra:
        if _login(duplicate) == author:
            client.delete_comment(repo, int(duplicate["id"]))
            removed.append(int(duplicate["id"]))
    # Editing to identical text still bumps "edited" and notifies nobody,
    # but skipping it saves a call and keeps the comment's history clean.
    if str(keep.get("body") or "").replace("\r\n", "\n") == text:
        return CommentResult("unchanged", keep, removed)
    updated = client.update_comment(repo, int(keep["id"]), text)
    return CommentResult("updated", updated, removed)


def _login(comment: dict[str, Any]) -> str | None:
    user = comment.get("user")
    return str(user.get("login")) if isinstance(user, dict) else None


def _repo_path(repo: str) -> str:
    if not _REPO.match(repo):
        raise ConveyorError(f"repository {repo!r} is not owner/name")
    owner, name = repo.split("/")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def _error(method: str, url: str, response: httpx.Response) -> ConveyorError:
    status = response.status_code
    where = f"{method} {response.request.url.path}"
    try:
        message = str(response.json().get("message") or "")
    except (ValueError, AttributeError):
        message = response.text[:300].strip()
    said = f"GitHub answered {status} to {where}: {message or response.reason_phrase}"
    if status == 401:
        return PermissionDenied(
            f"{said}; pass a valid token with --github-token or GITHUB_TOKEN"
        )
    if status == 403 and response.headers.get("x-ratelimit-remaining") == "0":
        return Unreachable(f"{said}; the rate limit resets later, try again then")
    if status == 403:
        return PermissionDenied(
            f"{said}; the token needs write access to pull requests "
            "(in a workflow: permissions: pull-requests: write)"
        )
    if status == 404:
        return NotFound(
            f"{said}; check --repo and --pr (a token that cannot see a "
            "private repository also gets 404)"
        )
    if status == 422:
        return Rejected(said)
    if status == 429 or status >= 500:
        return Unreachable(said)
    return ConveyorError(said)


__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "CommentResult",
    "GitHubClient",
    "marker_tag",
    "upsert_comment",
]
