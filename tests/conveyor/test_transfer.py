"""The transfer engine's retry, renewal and concurrency rules, against an
in-process sender (the real-server cases are in tests/ltd/test_upload.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from conveyor.errors import UploadFailed
from conveyor.scan import LocalFile, scan_site
from conveyor.transfer import Answer, Instruction, Transfer, TransientError

Handler = Callable[[httpx.Request], httpx.Response]


def site(tmp_path: Path, count: int = 20) -> dict[str, LocalFile]:
    for i in range(count):
        (tmp_path / f"p{i}.html").write_bytes(f"page {i}".encode() * (i + 1))
    return scan_site(tmp_path).by_path()


def instructions(
    files: dict[str, LocalFile], base: str = "http://s3"
) -> list[Instruction]:
    return [
        Instruction(path, f"{base}/{path}?sig=1", "PUT", {"Content-Type": "text/html"})
        for path in files
    ]


def transfer(handler: Handler, **options: object) -> Transfer:
    """A Transfer whose requests are answered by ``handler``, which speaks
    httpx's request and response types for readability."""

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        request = httpx.Request(method, url, headers=headers, content=body)
        try:
            response = handler(request)
        except httpx.TransportError as exc:
            raise TransientError(str(exc)) from exc
        return Answer(response.status_code, dict(response.headers), response.text)

    return Transfer(sender=send, backoff_base=0.001, **options)  # type: ignore[arg-type]


def test_every_file_arrives_once_with_its_headers(tmp_path: Path) -> None:
    files = site(tmp_path)
    received: dict[str, bytes] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "PUT"
        assert request.headers["Content-Type"] == "text/html"
        received[request.url.path.lstrip("/")] = request.content
        return httpx.Response(200)

    with transfer(handler) as t:
        stats = t.send(instructions(files), files)
    assert received == {p: f.source.read_bytes() for p, f in files.items()}
    assert stats.files == len(files)
    assert stats.bytes == sum(f.size for f in files.values())
    assert stats.retries == 0


def test_batches_that_arrive_while_sending_are_sent_too(tmp_path: Path) -> None:
    """The URLs keeper signs after the registration: each batch is queued as
    it arrives, while the first files are already on their way."""
    files = site(tmp_path)
    received: list[str] = []
    all_instructions = instructions(files)
    first, rest = all_instructions[:3], all_instructions[3:]
    fetched: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request.url.path.lstrip("/"))
        return httpx.Response(200)

    def batches() -> Iterator[list[Instruction]]:
        for i in range(0, len(rest), 5):
            fetched.append(i)
            yield rest[i : i + 5]

    with transfer(handler) as t:
        stats = t.send(first, files, batches())
    assert sorted(received) == sorted(files)
    assert stats.files == len(files)
    assert len(fetched) == 4


@pytest.mark.parametrize(
    "failure",
    [
        lambda: httpx.Response(500),
        lambda: httpx.Response(503, headers={"Retry-After": "0"}),
        lambda: httpx.Response(429),
        lambda: httpx.Response(408),
        "reset",
        "timeout",
    ],
    ids=["500", "503", "429", "408", "reset", "timeout"],
)
def test_transient_failures_are_retried(tmp_path: Path, failure: object) -> None:
    files = site(tmp_path, 5)
    attempts: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        attempts[path] += 1
        if attempts[path] <= 2:
            if failure == "reset":
                raise httpx.ReadError("connection reset by peer", request=request)
            if failure == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            return failure()  # type: ignore[operator]
        return httpx.Response(200)

    with transfer(handler) as t:
        stats = t.send(instructions(files), files)
    assert stats.files == 5
    assert stats.retries == 10
    assert set(attempts.values()) == {3}


def test_a_file_that_keeps_failing_fails_the_upload_naming_it(tmp_path: Path) -> None:
    files = site(tmp_path, 3)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/p1.html":
            return httpx.Response(500, text="<Error>InternalError</Error>")
        return httpx.Response(200)

    with (
        transfer(handler, attempts=4) as t,
        pytest.raises(
            UploadFailed, match=r"could not upload p1\.html: HTTP 500.*InternalError"
        ),
    ):
        t.send(instructions(files), files)


def test_client_errors_are_not_retried(tmp_path: Path) -> None:
    files = site(tmp_path, 1)
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, text="bad digest")

    with transfer(handler) as t, pytest.raises(UploadFailed, match="HTTP 400"):
        t.send(instructions(files), files)
    assert len(calls) == 1


def test_an_expired_url_is_renewed_once(tmp_path: Path) -> None:
    files = site(tmp_path, 4)
    renewed: list[Sequence[str]] = []

    def renew(paths: Sequence[str]) -> list[Instruction]:
        renewed.append(paths)
        return instructions({p: files[p] for p in paths}, base="http://fresh")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "s3":
            return httpx.Response(403, text="<Message>Request has expired</Message>")
        return httpx.Response(200)

    with transfer(handler, renew=renew) as t:
        stats = t.send(instructions(files), files)
    assert sorted(p for paths in renewed for p in paths) == sorted(files)
    assert stats.renewed == 4 and stats.files == 4


def test_rclones_answer_to_an_expired_url_is_renewed_too(tmp_path: Path) -> None:
    """rclone serve s3 answers 400 AccessDenied where S3 answers 403."""
    files = site(tmp_path, 1)
    expired = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        "<Message>The difference between the request time and the server's time "
        "is too large.</Message></Error>"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "s3":
            return httpx.Response(400, text=expired)
        return httpx.Response(200)

    renew = lambda paths: instructions(  # noqa: E731
        {p: files[p] for p in paths}, base="http://fresh"
    )
    with transfer(handler, renew=renew) as t:
        stats = t.send(instructions(files), files)
    assert stats.renewed == 1 and stats.files == 1


def test_a_refused_renewed_url_fails(tmp_path: Path) -> None:
    files = site(tmp_path, 1)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="AccessDenied")

    renew = lambda paths: instructions({p: files[p] for p in paths})  # noqa: E731
    with transfer(handler, renew=renew) as t, pytest.raises(UploadFailed, match="403"):
        t.send(instructions(files), files)


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    files = site(tmp_path, 40)
    lock = threading.Lock()
    current = peak = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal current, peak
        with lock:
            current += 1
            peak = max(peak, current)
        time.sleep(0.01)
        with lock:
            current -= 1
        return httpx.Response(200)

    with transfer(handler, concurrency=4) as t:
        t.send(instructions(files), files)
    assert peak == 4


def test_a_file_changed_since_the_scan_is_refused(tmp_path: Path) -> None:
    files = site(tmp_path, 2)
    (tmp_path / "p0.html").write_bytes(b"rewritten after the scan, longer")
    with (
        transfer(lambda r: httpx.Response(200)) as t,
        pytest.raises(UploadFailed, match="changed size"),
    ):
        t.send(instructions(files), files)


def test_instructions_for_unknown_files_are_refused(tmp_path: Path) -> None:
    files = site(tmp_path, 1)
    bogus = [Instruction("elsewhere.html", "http://s3/x", "PUT", {})]
    with (
        transfer(lambda r: httpx.Response(200)) as t,
        pytest.raises(UploadFailed, match="not in the site"),
    ):
        t.send(bogus, files)


def test_the_real_sender_reports_a_refused_connection_as_transient(
    tmp_path: Path,
) -> None:
    from conveyor.transfer import Urllib3Sender
    from tests.servers import free_port

    sender = Urllib3Sender(2)
    with pytest.raises(TransientError, match="Connection refused|NewConnectionError"):
        sender("PUT", f"http://127.0.0.1:{free_port()}/x", {}, b"body")
