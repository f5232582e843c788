"""The transfer engine: send many files to upload URLs, fast and dependably.

Threads over one pooled keep-alive urllib3 client: object stores answer
small PUTs in a few milliseconds, so throughput comes from many requests in
flight and from little client CPU per request. urllib3 (which boto3 also
rides on) spends about a third of httpx's CPU per request, which decides the
rate on a CI runner with two cores (see bench/upload.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

import urllib3

from conveyor.errors import UploadFailed
from conveyor.retry import Backoff, retry_after
from conveyor.scan import LocalFile

#: Chosen with bench/upload.py against a local S3 server; see the README.
DEFAULT_CONCURRENCY = 32
#: Attempts per file before the whole upload gives up.
DEFAULT_ATTEMPTS = 8
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: A presigned or keeper-signed URL that has expired (or whose signature the
#: store rejects) answers 401/403: ask keeper for a fresh one.
_EXPIRED_STATUSES = frozenset({401, 403})
#: ``rclone serve s3`` answers an expired presigned URL with 400 and this
#: error code (and S3's clock-skew message) instead.
_EXPIRED_400_CODE = "<Code>AccessDenied</Code>"
_TIMEOUT = urllib3.Timeout(connect=10.0, read=120.0)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str


class TransientError(Exception):
    """The request may not have arrived: connection refused or reset,
    timeout. Sending again is safe since uploads are idempotent PUTs."""


class Sender(Protocol):
    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Answer: ...


class Urllib3Sender:
    """Sends over a keep-alive pool sized to the concurrency."""

    def __init__(self, concurrency: int) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=concurrency,
            block=True,
            retries=False,
            timeout=_TIMEOUT,
        )

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        try:
            response = self._pool.request(
                method, url, body=body, headers=dict(headers), preload_content=True
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        return Answer(
            response.status,
            dict(response.headers),
            response.data[:300].decode("utf-8", "replace"),
        )

    def close(self) -> None:
        self._pool.clear()


@dataclass(frozen=True)
class Instruction:
    path: str
    url: str
    method: str
    headers: dict[str, str]

    @classmethod
    def from_api(cls, item: dict[str, object]) -> Instruction:
        headers = item.get("headers") or {}
        assert isinstance(headers, dict)
        return cls(
            path=str(item["path"]),
            url=str(item["url"]),
            method=str(item.get("method", "PUT")),
            headers={str(k): str(v) for k, v in headers.items()},
        )


#: Asks keeper for fresh instructions for these paths.
Renew = Callable[[Sequence[str]], list[Instruction]]
#: Told after each file lands: (file, bytes sent).
Progress = Callable[[LocalFile, int], None]


@dataclass
class TransferStats:
    files: int = 0
    bytes: int = 0
    retries: int = 0
    renewed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sent(self, size: int) -> None:
        with self._lock:
            self.files += 1
            self.bytes += size

    def retried(self) -> None:
        with self._lock:
            self.retries += 1


class Transfer:
    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        attempts: int = DEFAULT_ATTEMPTS,
        renew: Renew | None = None,
        progress: Progress | None = None,
        sender: Sender | None = None,
        backoff_base: float = 0.2,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.attempts = attempts
        self.renew = renew
        self.progress = progress
        self.stats = TransferStats()
        self.backoff_base = backoff_base
        self._own_sender = Urllib3Sender(concurrency) if sender is None else None
        self._send: Sender = sender or self._own_sender  # type: ignore[assignment]

    def close(self) -> None:
        if self._own_sender is not None:
            self._own_sender.close()

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        instructions: Iterable[Instruction],
        files: dict[str, LocalFile],
        more: Iterable[list[Instruction]] = (),
    ) -> TransferStats:
        """Send every instructed file; raises :class:`UploadFailed` naming
        the first file that could not be sent after all retries.

        ``more`` yields further batches (keeper signing the rest of the URLs
        while the first files go out): each is queued as it arrives.

        On the first failure (or Ctrl-C) files not yet started are abandoned:
        nothing is published until the build is confirmed, so stopping early
        loses nothing and a re-run resumes.
        """
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ltd-upload")
        futures: list[Future[None]] = []

        def submit(batch: list[Instruction]) -> None:
            missing = [i.path for i in batch if i.path not in files]
            if missing:
                raise UploadFailed(
                    f"keeper asked for files that are not in the site: {missing[:5]}"
                )
            # Large files first, so one big file does not finish the run alone.
            batch.sort(key=lambda i: files[i.path].size, reverse=True)
            futures.extend(pool.submit(self._send_one, i, files[i.path]) for i in batch)

        try:
            submit(list(instructions))
            for batch in more:
                for future in futures:
                    if future.done() and future.exception() is not None:
                        future.result()
                submit(list(batch))
            if futures:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None:
                        future.result()
        finally:
            for future in futures:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        return self.stats

    def _send_one(self, instruction: Instruction, local: LocalFile) -> None:
        backoff = Backoff(base=self.backoff_base)
        renewed = False
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                body = local.source.read_bytes()
            except OSError as exc:
                raise UploadFailed(f"cannot read {local.source}: {exc}") from exc
            if len(body) != local.size:
                raise UploadFailed(
                    f"{local.source} changed size while uploading "
                    f"({local.size} → {len(body)} bytes); rebuild and re-run"
                )
            try:
                answer = self._send(
                    instruction.method, instruction.url, instruction.headers, body
                )
            except TransientError as exc:
                last = str(exc)
                delay = backoff.next()
            else:
                status = answer.status
                if 200 <= status < 300:
                    self.stats.sent(local.size)
                    if self.progress is not None:
                        self.progress(local, local.size)
                    return
                last = f"HTTP {status}: {answer.text.strip()[:200]}"
                if _expired(answer) and self.renew and not renewed:
                    # One renewal per file: a second refusal is not expiry.
                    instruction = self._renew(instruction)
                    renewed = True
                    continue
                if status not in _RETRY_STATUSES:
                    break
                delay = retry_after(answer.headers) or backoff.next()
            if attempt < self.attempts:
                self.stats.retried()
                time.sleep(delay)
        raise UploadFailed(f"could not upload {local.path}: {last}")

    def _renew(self, instruction: Instruction) -> Instruction:
        assert self.renew is not None
        fresh = self.renew([instruction.path])
        with self.stats._lock:
            self.stats.renewed += 1
        for item in fresh:
            if item.path == instruction.path:
                return item
        raise UploadFailed(f"keeper gave no new upload URL for {instruction.path}")


def _expired(answer: Answer) -> bool:
    """Does the answer say the URL expired (or was refused as if it had)?"""
    if answer.status in _EXPIRED_STATUSES:
        return True
    return answer.status == 400 and _EXPIRED_400_CODE in answer.text
