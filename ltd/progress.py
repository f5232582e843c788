"""Upload progress: a rich bar on a terminal, sparse log lines in CI logs.

CI logs keep every byte written, so a redrawn bar would flood them; a line
every few seconds says the job is alive without drowning the rest.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from conveyor.scan import LocalFile
from conveyor.upload import Events

_LOG_EVERY = 5.0


def interactive(stream: Any = None) -> bool:
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def upload_events(*, bar: bool) -> Iterator[Events]:
    if bar:
        with _bar_events() as events:
            yield events
    else:
        yield _log_events()


@contextmanager
def _bar_events() -> Iterator[Events]:
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}/{task.fields[count]} files"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("uploading", total=None, files=0, count=0)
        lock = threading.Lock()
        done = 0

        def registered(build: dict[str, Any], count: int, size: int) -> None:
            bar.update(task, total=size, count=count)
            console.print(_registered_line(build, count, size))

        def progress(local: LocalFile, sent: int) -> None:
            nonlocal done
            with lock:
                done += 1
                bar.update(task, advance=sent, files=done)

        def confirming() -> None:
            bar.update(task, description="verifying")

        yield Events(registered=registered, progress=progress, confirming=confirming)


def _log_events() -> Events:
    state = {"files": 0, "bytes": 0, "total": 0, "size": 0, "last": 0.0}
    lock = threading.Lock()

    def registered(build: dict[str, Any], count: int, size: int) -> None:
        state.update(total=count, size=size, last=time.monotonic())
        click.echo(_registered_line(build, count, size), err=True)

    def progress(local: LocalFile, sent: int) -> None:
        with lock:
            state["files"] += 1
            state["bytes"] += sent
            now = time.monotonic()
            if now - state["last"] < _LOG_EVERY and state["files"] < state["total"]:
                return
            state["last"] = now
            click.echo(
                f"uploaded {state['files']}/{state['total']} files "
                f"({state['bytes'] / 1e6:.1f}/{state['size'] / 1e6:.1f} MB)",
                err=True,
            )

    def confirming() -> None:
        click.echo("verifying and publishing…", err=True)

    return Events(registered=registered, progress=progress, confirming=confirming)


def _registered_line(build: dict[str, Any], count: int, size: int) -> str:
    verb = "resuming" if build.get("resumed") else "registered"
    return (
        f"{verb} build {build['id']} ({build['file_count']} files): "
        f"{count} to upload ({size / 1e6:.1f} MB), {build.get('reused', 0)} reused"
    )
