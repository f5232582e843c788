"""``ltd upload``: publish a built site as a new build."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click

from conveyor.ci import detect_ci, skip_requested
from conveyor.client import KeeperClient
from conveyor.errors import BadPattern, ConveyorError
from conveyor.scan import scan_site
from conveyor.selection import DEFAULT_EXCLUDES, Selection, check_patterns
from conveyor.transfer import DEFAULT_CONCURRENCY
from conveyor.upload import UploadResult, upload_site
from ltd.errors import reports_errors
from ltd.progress import interactive, upload_events
from ltd.waiting import timeout_option


def _patterns(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """Refuse an unusable --exclude / --include as a usage error (exit 2)."""
    try:
        check_patterns(value, param.opts[0])
    except BadPattern as exc:
        raise click.BadParameter(exc.message, ctx=ctx, param=param) from exc
    return value


@click.command()
@click.option("--org", envvar="LTD_ORG", help="Organization slug.")
@click.option("--product", envvar="LTD_PRODUCT", help="Product slug.")
@click.option(
    "--dir",
    "directory",
    envvar="LTD_DIR",
    type=click.Path(path_type=Path, file_okay=False),
    help="The built site, e.g. _build/html.",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="GLOB",
    callback=_patterns,
    help="Do not publish the files GLOB matches (repeatable). GLOBs match "
    "paths relative to --dir with '/' separators: without a '/' a GLOB "
    "matches a file or folder name at any depth ('*.map', 'drafts'), with "
    "one it matches from the top ('api/*.html', '/robots.txt'), and a "
    "trailing '/' matches folders only ('drafts/'). A matched folder takes "
    "all it holds. '*' and '?' stay within a name, '**' spans folders. "
    f"Skipped by default: Sphinx's {' and '.join(DEFAULT_EXCLUDES)}.",
)
@click.option(
    "--include",
    "includes",
    multiple=True,
    metavar="GLOB",
    callback=_patterns,
    help="Publish the files GLOB matches even when a default or an "
    "--exclude skips them (repeatable; an --include always wins, whatever "
    "the order). It never narrows what is published. --include .doctrees/ "
    "and --include .buildinfo undo the defaults.",
)
@click.option(
    "--git-ref",
    envvar="LTD_GIT_REF",
    help="Branch or tag the site was built from (detected in CI; this wins).",
)
@click.option(
    "--alternate-name",
    envvar="LTD_ALTERNATE_NAME",
    help="Deployment name for alternate_git_ref editions.",
)
@click.option("--host", envvar="LTD_HOST", help="Keeper's URL.")
@click.option("--token", envvar="LTD_TOKEN", help="Uploader token for the org.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until keeper has verified the build and its editions are "
    "published on every page and edge (exit non-zero if that fails).",
)
@timeout_option("Seconds --wait waits in all.")
@click.option(
    "--concurrency",
    envvar="LTD_CONCURRENCY",
    type=click.IntRange(1, 256),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Files sent at once.",
)
@click.option(
    "--skip",
    is_flag=True,
    envvar="LTD_SKIP_UPLOAD",
    help="Do nothing and exit 0 (also LTD_SKIP_UPLOAD=true).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: on a terminal outside CI).",
)
@click.option(
    "--github-output",
    is_flag=True,
    help="Write build-id, url and urls to $GITHUB_OUTPUT (GitHub Actions).",
)
@reports_errors
def upload(
    org: str | None,
    product: str | None,
    directory: Path | None,
    excludes: tuple[str, ...],
    includes: tuple[str, ...],
    git_ref: str | None,
    alternate_name: str | None,
    host: str | None,
    token: str | None,
    wait: bool,
    timeout: float,
    concurrency: int,
    skip: bool,
    progress: bool | None,
    github_output: bool,
) -> None:
    """Upload a built documentation site as a new build and publish it."""
    if skip or skip_requested(os.environ):
        click.echo("skipping the upload: --skip or LTD_SKIP_UPLOAD is set", err=True)
        return
    # Checked here, not by click, so that a skipped upload (a fork's pull
    # request without secrets) needs none of them.
    missing = [
        flag
        for flag, value in (
            ("--org / LTD_ORG", org),
            ("--product / LTD_PRODUCT", product),
            ("--dir / LTD_DIR", directory),
            ("--host / LTD_HOST", host),
            ("--token / LTD_TOKEN", token),
        )
        if not value
    ]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}")
    assert org and product and directory and host and token
    ci = detect_ci(os.environ)
    ref = git_ref or (ci.git_ref if ci else None) or _local_git_ref(directory)
    if not ref:
        raise click.UsageError(
            "cannot tell which git ref this site was built from; pass --git-ref"
        )
    site = scan_site(directory, Selection.build(excludes, includes))
    skipped = f" (skipped {len(site.skipped)})" if site.skipped else ""
    click.echo(
        f"scanned {directory}: {len(site.files)} files, "
        f"{site.total_size / 1e6:.1f} MB{skipped}; git ref {ref}",
        err=True,
    )
    bar = interactive() and ci is None if progress is None else progress
    with KeeperClient(host, token) as client, upload_events(bar=bar) as events:
        result = upload_site(
            client,
            site,
            org=org,
            product=product,
            git_ref=ref,
            alternate_name=alternate_name,
            ci=ci.annotations() if ci else {},
            concurrency=concurrency,
            wait=wait,
            wait_seconds=timeout,
            events=events,
        )
    _report(result, wait)
    if github_output:
        _write_github_output(result)


def _report(result: UploadResult, waited: bool) -> None:
    for edition in result.editions:
        note = "" if edition.status == "published" else f" ({edition.status})"
        click.echo(f"{edition.slug}: {edition.url or '(no public URL)'}{note}")
    if not result.editions:
        status = result.build["status"]
        if status == "complete":
            click.echo("no edition shows this build yet", err=True)
        elif not waited:
            click.echo(f"build {result.build_id} is {status}; not waiting", err=True)
    click.echo(result.summary(), err=True)


def _write_github_output(result: UploadResult) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        raise ConveyorError("--github-output needs GITHUB_OUTPUT to be set")
    urls = [e.url for e in result.editions if e.url]
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"build-id={result.build_id}\n")
        out.write(f"url={urls[0] if urls else ''}\n")
        # Multi-line values use GitHub's heredoc syntax.
        out.write("urls<<LTD_URLS_EOF\n" + "".join(u + "\n" for u in urls))
        out.write("LTD_URLS_EOF\n")


def _local_git_ref(directory: Path) -> str | None:
    """The branch checked out where the site was built, outside CI."""
    for cwd in (directory, Path.cwd()):
        try:
            done = subprocess.run(
                ["git", "symbolic-ref", "--short", "-q", "HEAD"],
                cwd=cwd if cwd.is_dir() else None,
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None
