"""`ltd github comment` keeps exactly one preview comment per pull request,
against a stand-in of GitHub's REST API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ltd.admin import register
from tests.ltd.github_api import BOT, BROKEN_REPO, REPO, FakeGitHub, fake_github
from tests.servers import free_port

MARKER = "ltd-preview-pipelines"
TAG = f"<!-- {MARKER} -->"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    with fake_github() as state:
        yield state


@pytest.fixture
def gh(server: FakeGitHub) -> FakeGitHub:
    server.reset()
    return server


def comment(
    gh: FakeGitHub,
    *args: str,
    token: str | None = "gh-write-token",
    input: str | None = None,
) -> Result:
    group = click.Group("ltd")
    register(group)
    env = {
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": REPO,
    }
    return CliRunner().invoke(group, ["github", "comment", *args], env=env, input=input)


def preview(gh: FakeGitHub, body: str, *, pr: str = "7", **kw: str | None) -> Result:
    return comment(gh, "--pr", pr, "--marker", MARKER, "--body", body, **kw)


def ours(gh: FakeGitHub, number: int = 7) -> list[str]:
    return [c.body for c in gh.on(number) if c.body.startswith(TAG)]


def test_first_run_creates_and_later_runs_update_the_same_comment(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    text = tmp_path / "comment.md"
    text.write_text("Preview: https://pipelines.lsst.io/v/feature-x/\n")
    first = comment(
        gh, "--repo", REPO, "--pr", "7", "--marker", MARKER, "--body-file", str(text)
    )
    assert first.exit_code == 0, first.output
    [made] = gh.on(7)
    assert made.login == BOT
    assert made.body == f"{TAG}\nPreview: https://pipelines.lsst.io/v/feature-x/\n"
    assert first.stdout.strip() == (
        f"https://github.com/{REPO}/pull/7#issuecomment-{made.id}"
    )
    assert "created comment" in first.stderr

    second = preview(gh, "Preview: build 2")
    assert second.exit_code == 0, second.output
    assert "updated comment" in second.stderr
    [still] = gh.on(7)
    assert still.id == made.id
    assert still.body == f"{TAG}\nPreview: build 2\n"

    gh.requests.clear()
    third = preview(gh, "Preview: build 2")
    assert third.exit_code == 0
    assert "unchanged" in third.stderr
    assert gh.calls("PATCH") == [] and gh.calls("POST") == []


def test_other_comments_are_left_alone(gh: FakeGitHub) -> None:
    human = gh.add(7, "Looks good to me")
    quoting = gh.add(7, f"> {TAG}\n> Preview: old\n\nThis link is broken!")
    other_product = gh.add(7, "<!-- ltd-preview-other -->\nother docs", login=BOT)
    other_pr = gh.add(8, f"{TAG}\nPR 8's preview", login=BOT)
    before = {c.id: c.body for c in gh.comments.values()}

    for body in ("one", "two"):
        assert preview(gh, body).exit_code == 0

    for cid in (human, quoting, other_product, other_pr):
        assert gh.comments[cid].body == before[cid]
    assert ours(gh) == [f"{TAG}\ntwo\n"]
    assert len(gh.on(7)) == 4  # three that were there, and ours


def test_finds_its_comment_past_the_first_pages(gh: FakeGitHub) -> None:
    for i in range(230):
        gh.add(7, f"comment {i}")
    mine = gh.add(7, f"{TAG}\nold preview", login=BOT)
    for i in range(20):
        gh.add(7, f"later {i}")

    result = preview(gh, "new preview")
    assert result.exit_code == 0, result.output
    assert gh.comments[mine].body == f"{TAG}\nnew preview\n"
    assert len(gh.on(7)) == 251  # updated, not added
    pages = gh.calls("GET")
    assert len(pages) == 3
    assert "per_page=100" in pages[0]
    assert pages[1].endswith("page=2") and pages[2].endswith("page=3")


def test_a_long_conversation_without_our_comment_gets_one(gh: FakeGitHub) -> None:
    for i in range(205):
        gh.add(7, f"comment {i}")
    assert preview(gh, "first preview").exit_code == 0
    assert ours(gh) == [f"{TAG}\nfirst preview\n"]
    assert len(gh.calls("GET")) == 3


def test_duplicates_from_racing_runs_are_folded_into_one(gh: FakeGitHub) -> None:
    keep = gh.add(7, f"{TAG}\nrun A", login=BOT)
    gh.add(7, f"{TAG}\nrun B", login=BOT)
    result = preview(gh, "run C")
    assert result.exit_code == 0, result.output
    assert "removed duplicates" in result.stderr
    assert [c.id for c in gh.on(7)] == [keep]
    assert ours(gh) == [f"{TAG}\nrun C\n"]


def test_body_from_stdin(gh: FakeGitHub) -> None:
    result = comment(
        gh, "--pr", "9", "--marker", MARKER, "--body-file", "-", input="from a pipe\n"
    )
    assert result.exit_code == 0, result.output
    assert ours(gh, 9) == [f"{TAG}\nfrom a pipe\n"]


# -- failures ---------------------------------------------------------------


def test_bad_token_exits_4_with_githubs_message(gh: FakeGitHub) -> None:
    result = preview(gh, "x", token="not-a-token")
    assert result.exit_code == 4
    assert "Bad credentials" in result.stderr and "GITHUB_TOKEN" in result.stderr


def test_read_only_token_says_which_permission_is_missing(gh: FakeGitHub) -> None:
    result = preview(gh, "x", token="gh-read-token")
    assert result.exit_code == 4
    assert "Resource not accessible by integration" in result.stderr
    assert "pull-requests: write" in result.stderr
    assert gh.on(7) == []


def test_unknown_repository_exits_3(gh: FakeGitHub) -> None:
    result = comment(
        gh, "--repo", "lsst/nope", "--pr", "1", "--marker", MARKER, "--body", "x"
    )
    assert result.exit_code == 3
    assert "GitHub answered 404" in result.stderr and "--repo" in result.stderr


def test_server_error_exits_5(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("conveyor.retry.time.sleep", lambda seconds: None)
    result = comment(
        gh, "--repo", BROKEN_REPO, "--pr", "1", "--marker", MARKER, "--body", "x"
    )
    assert result.exit_code == 5
    assert "GitHub answered 500" in result.stderr and "Server Error" in result.stderr


def test_unreachable_api_exits_5(
    gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("conveyor.retry.time.sleep", lambda seconds: None)
    group = click.Group("ltd")
    register(group)
    dead = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        group,
        ["github", "comment", "--repo", REPO, "--pr", "1", "--marker", MARKER,
         "--body", "x", "--api-url", dead],
        env={"GITHUB_TOKEN": "gh-write-token"},
    )  # fmt: skip
    assert result.exit_code == 5
    assert "cannot reach GitHub" in result.stderr


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (["--body", "x"], None, "no GitHub token"),
        ([], "gh-write-token", "exactly one of --body, --body-file"),
        (["--body", "  "], "gh-write-token", "empty"),
    ],
)
def test_usage_errors_exit_2(
    gh: FakeGitHub, args: list[str], token: str | None, message: str
) -> None:
    result = comment(gh, "--pr", "1", "--marker", MARKER, *args, token=token)
    assert result.exit_code == 2
    assert message in result.stderr
    assert gh.requests == []


def test_a_marker_that_would_break_the_html_comment_is_refused(gh: FakeGitHub) -> None:
    result = comment(gh, "--pr", "1", "--marker", "a--b", "--body", "x")
    assert result.exit_code == 1
    assert "marker" in result.stderr
    assert gh.requests == []
