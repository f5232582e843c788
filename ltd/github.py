"""``ltd github``: what a GitHub Actions job needs beyond the upload itself."""

from __future__ import annotations

from typing import TextIO

import click

from conveyor.github import DEFAULT_API_URL, GitHubClient, upsert_comment
from ltd.errors import reports_errors


@click.group()
def github() -> None:
    """GitHub helpers for CI jobs."""


@github.command()
@click.option(
    "--repo",
    envvar="GITHUB_REPOSITORY",
    show_envvar=True,
    required=True,
    help="The repository, owner/name.",
)
@click.option(
    "--pr",
    "number",
    type=click.IntRange(min=1),
    required=True,
    help="Pull request number.",
)
@click.option(
    "--marker",
    required=True,
    help="Names the comment, e.g. ltd-preview-pipelines; it is hidden in "
    "the comment as <!-- MARKER --> and finds it again on the next run.",
)
@click.option("--body", help="The comment's text (Markdown).")
@click.option(
    "--body-file",
    type=click.File("r", encoding="utf-8"),
    help="Read the text from this file ('-' for stdin).",
)
@click.option(
    "--github-token",
    envvar="GITHUB_TOKEN",
    show_envvar=True,
    help="Token allowed to write pull request comments.",
)
@click.option(
    "--api-url",
    envvar="GITHUB_API_URL",
    show_envvar=True,
    default=DEFAULT_API_URL,
    show_default=True,
    help="GitHub's REST API (GitHub Enterprise Server sets its own).",
)
@reports_errors
def comment(
    repo: str,
    number: int,
    marker: str,
    body: str | None,
    body_file: TextIO | None,
    github_token: str | None,
    api_url: str,
) -> None:
    """Create or update the one pull request comment that carries MARKER.

    Each run edits the comment the previous run wrote, so a pull request
    shows one preview comment however often it is pushed to. Prints the
    comment's URL.
    """
    if (body is None) == (body_file is None):
        raise click.UsageError("give the text with exactly one of --body, --body-file")
    text = body if body is not None else body_file.read()  # type: ignore[union-attr]
    if not text.strip():
        raise click.UsageError("the comment's text is empty")
    if not github_token:
        raise click.UsageError(
            "no GitHub token: set GITHUB_TOKEN or pass --github-token"
        )
    with GitHubClient(github_token, api_url=api_url) as client:
        result = upsert_comment(
            client, repo=repo, number=number, marker=marker, body=text
        )
    click.echo(
        f"{result.action} comment {result.comment.get('id')} on {repo}#{number}"
        + (f"; removed duplicates {result.removed}" if result.removed else ""),
        err=True,
    )
    if result.url:
        click.echo(result.url)
