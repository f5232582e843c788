"""Publishing a built site: register, send what keeper lacks, confirm."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.client import KeeperClient
from conveyor.errors import UploadFailed
from conveyor.scan import LocalFile, Site
from conveyor.selection import SkippedFile, describe_skipped, human_size
from conveyor.transfer import (
    DEFAULT_CONCURRENCY,
    Instruction,
    Progress,
    Transfer,
    TransferStats,
)

#: Upload URLs keeper signs with the registration; the rest are asked for
#: in batches of URL_BATCH while the first files are sent.
FIRST_URLS = 200
URL_BATCH = 500
#: Sent files are reported to keeper this many at a time.
SENT_BATCH = 500
#: How long ``wait`` polls a build that keeper is still processing.
DEFAULT_WAIT_SECONDS = 600.0
_TERMINAL = frozenset({"complete", "failed"})


@dataclass(frozen=True)
class PublishedEdition:
    slug: str
    url: str | None
    #: ``pending``, ``published`` or ``failed`` (a keeper that does not say
    #: publishes within the request: ``published``).
    status: str = "published"
    error: str | None = None


@dataclass
class UploadResult:
    build: dict[str, Any]
    editions: list[PublishedEdition] = field(default_factory=list)
    files_sent: int = 0
    bytes_sent: int = 0
    files_reused: int = 0
    resumed: bool = False
    retries: int = 0
    seconds: float = 0.0
    #: Files of the site that were left out (defaults, --exclude).
    skipped: tuple[SkippedFile, ...] = ()

    @property
    def build_id(self) -> str:
        return str(self.build["id"])

    def summary(self) -> str:
        parts = [
            f"sent {self.files_sent} files ({human_size(self.bytes_sent)})",
            f"reused {self.files_reused}",
        ]
        if self.resumed:
            parts.append("resumed an interrupted upload")
        if self.retries:
            parts.append(f"{self.retries} retries")
        parts.append(f"{self.seconds:.1f}s")
        text = f"build {self.build_id}: " + ", ".join(parts)
        if self.skipped:
            text += "; " + describe_skipped(self.skipped)
        return text


@dataclass
class Events:
    """Hooks for the command line to show what is going on."""

    registered: Callable[[dict[str, Any], int, int], None] = lambda b, n, size: None
    progress: Progress | None = None
    confirming: Callable[[], None] = lambda: None


def upload_site(
    client: KeeperClient,
    site: Site,
    *,
    org: str,
    product: str,
    git_ref: str,
    alternate_name: str | None = None,
    ci: dict[str, Any] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    wait: bool = True,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    events: Events | None = None,
) -> UploadResult:
    """Publish ``site`` as a new build of ``product``.

    Nothing changes for readers until the final confirmation succeeds; any
    failure before it leaves a pending build that running the same upload
    again resumes.
    """
    events = events or Events()
    started = time.monotonic()
    staged = stage_site(
        client,
        site,
        org=org,
        product=product,
        git_ref=git_ref,
        alternate_name=alternate_name,
        ci=ci,
        concurrency=concurrency,
        events=events,
    )
    created, build_path, stats = staged.created, staged.build_path, staged.stats
    events.confirming()
    build = client.patch(build_path, {"status": "uploaded"})
    deadline = time.monotonic() + wait_seconds
    if wait:
        build = wait_for_build(client, build_path, build, wait_seconds)
    if build["status"] == "failed":
        raise UploadFailed(
            f"keeper rejected build {build['id']}: {build.get('error')}; "
            "run the same upload again to resend the files"
        )
    result = UploadResult(
        build=build,
        files_sent=stats.files,
        bytes_sent=stats.bytes,
        files_reused=int(created.get("reused", 0)),
        resumed=bool(created.get("resumed", False)),
        retries=stats.retries,
        skipped=site.skipped,
    )
    if build["status"] == "complete":
        result.editions = editions_showing(client, org, product, build["id"])
        if wait:
            result.editions = _wait_published(
                client, org, product, build["id"], result.editions, deadline
            )
    result.seconds = time.monotonic() - started
    return result


@dataclass
class Staged:
    """A registered build whose files keeper asked for are all sent, not
    yet confirmed."""

    created: dict[str, Any]
    build_path: str
    stats: TransferStats


def stage_site(
    client: KeeperClient,
    site: Site,
    *,
    org: str,
    product: str,
    git_ref: str,
    alternate_name: str | None = None,
    ci: dict[str, Any] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    events: Events | None = None,
) -> Staged:
    """Register ``site`` as a pending build and send what keeper lacks:
    everything :func:`upload_site` does before it confirms."""
    events = events or Events()
    body: dict[str, Any] = {
        "git_ref": git_ref,
        "manifest": [f.manifest_entry() for f in site.files],
        "ci": ci or {},
        # Keeper signs these now and the rest while the first are sent.
        "first_urls": FIRST_URLS,
    }
    if alternate_name:
        body["alternate_name"] = alternate_name
    # Registration is idempotent (an identical pending build is resumed), so
    # retrying it after a lost response cannot create a duplicate.
    base = client.product_path(org, product)
    created = client.post(f"{base}/builds", body, retry=True)
    build_path = client.build_path(org, product, created["id"])
    instructions = [Instruction.from_api(u) for u in created["uploads"]]
    later = [str(p) for p in created.get("more_uploads", [])]
    files = site.by_path()
    wanted = [i.path for i in instructions] + later
    events.registered(created, len(wanted), sum(files[p].size for p in wanted))

    def renew(paths: Sequence[str]) -> list[Instruction]:
        fresh = client.post(f"{build_path}/uploads", {"paths": list(paths)}, retry=True)
        return [Instruction.from_api(u) for u in fresh]

    def more() -> Iterator[list[Instruction]]:
        for i in range(0, len(later), URL_BATCH):
            yield renew(later[i : i + URL_BATCH])

    sent = _SentNotes(client, f"{build_path}/sent", events.progress)
    with Transfer(concurrency=concurrency, renew=renew, progress=sent) as transfer:
        stats = transfer.send(instructions, files, more())
    sent.close()
    return Staged(created, build_path, stats)


class _SentNotes:
    """Tells keeper which files have been sent, SENT_BATCH at a time, so it
    hashes and places them while the rest are on their way and the
    confirmation has only the tail left. Best effort: a keeper that does
    not take the notes still verifies everything at confirmation."""

    def __init__(
        self, client: KeeperClient, path: str, progress: Progress | None
    ) -> None:
        self._client = client
        self._path = path
        self._progress = progress
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._threads: list[threading.Thread] = []
        self._working = True

    def __call__(self, local: LocalFile, size: int) -> None:
        if self._progress is not None:
            self._progress(local, size)
        with self._lock:
            self._pending.append(local.path)
            if len(self._pending) < SENT_BATCH or not self._working:
                return
            batch, self._pending = self._pending, []
        thread = threading.Thread(target=self._note, args=(batch,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _note(self, paths: list[str]) -> None:
        try:
            self._client.post(self._path, {"paths": paths})
        except Exception:  # an older keeper, or a hiccup: confirmation covers it
            self._working = False

    def close(self) -> None:
        """Wait for the notes in flight (the last files go with the
        confirmation itself)."""
        for thread in self._threads:
            thread.join(timeout=30)


def editions_showing(
    client: KeeperClient, org: str, product: str, build_id: str
) -> list[PublishedEdition]:
    """Every edition now pointing at ``build_id``, the default one first."""
    found = [
        PublishedEdition(
            e["slug"],
            e.get("published_url"),
            e.get("publish_status", "published"),
            e.get("publish_error"),
        )
        for e in client.list_all(
            f"{client.product_path(org, product)}/editions", limit=100
        )
        if e.get("build_id") == build_id
    ]
    return sorted(found, key=lambda e: (e.slug != "__main", e.slug))


def wait_for_build(
    client: KeeperClient, path: str, build: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Poll the build at ``path`` until keeper has verified it (``complete``
    or ``failed``); raise when ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    delay = 0.05
    while build["status"] not in _TERMINAL:
        if time.monotonic() > deadline:
            raise UploadFailed(
                f"build {build['id']} was still {build['status']} after "
                f"{seconds:.0f}s; check it with `ltd builds show {build['id']}`"
            )
        time.sleep(delay)
        # Most builds verify in well under a second; a large one is polled
        # four times a second, so that its wait ends soon after it does.
        delay = min(delay * 2, 0.25)
        build = client.get(path)
    return build


def _wait_published(
    client: KeeperClient,
    org: str,
    product: str,
    build_id: str,
    editions: list[PublishedEdition],
    deadline: float,
) -> list[PublishedEdition]:
    """Wait until every edition showing the build is published on keeper's
    pages and every edge of the org; raise if one failed or time ran out."""
    delay = 0.05
    while True:
        failed = [e for e in editions if e.status == "failed"]
        if failed:
            raise UploadFailed(
                "; ".join(
                    f"edition {e.slug} was not published: {e.error}" for e in failed
                )
            )
        pending = [e.slug for e in editions if e.status != "published"]
        if not pending:
            return editions
        if time.monotonic() > deadline:
            raise UploadFailed(
                f"edition(s) {', '.join(pending)} were still being published when "
                "the wait ended; see `keeper jobs list` or GET /api/orgs/"
                f"{org}/jobs, or raise --timeout"
            )
        time.sleep(delay)
        # Pages and the built-in edge take a fraction of a second; edges on
        # other hosts (agents polling keeper) longer.
        delay = min(delay * 2, 0.5)
        editions = editions_showing(client, org, product, build_id)
