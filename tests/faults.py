"""A reverse proxy that makes a share of upload requests fail, the way S3
and networks do: 500, 503 SlowDown, connection resets before and after the
object was stored, and slow answers.

Faults are planned per object key (how many attempts fail and how), so a
test is deterministic and the client's retry budget is never exhausted by
bad luck. Requests that ``is_upload`` rejects (keeper's own API calls, the
server's own boto3 calls) pass through untouched.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("500", "503", "reset", "reset_after_store", "slow")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


def presigned_upload(method: str, target: str) -> bool:
    """S3 presigned PUTs and keeper's own signed upload URLs."""
    return method == "PUT" and (
        "X-Amz-Signature=" in target or "/api/uploads/" in target
    )


class FaultyProxy:
    def __init__(
        self,
        upstream: str,
        *,
        share: float = 0.4,
        max_failures: int = 3,
        faults: tuple[str, ...] = FAULTS,
        slow_seconds: float = 0.3,
        delay: float = 0.0,
        seed: int = 7,
        is_upload: Callable[[str, str], bool] = presigned_upload,
    ) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname and parts.port, upstream
        self.upstream = (parts.hostname, parts.port)
        self.share = share
        self.max_failures = max_failures
        self.faults = faults
        self.slow_seconds = slow_seconds
        #: Added to every upload, to make an upload slow enough to interrupt.
        self.delay = delay
        self.is_upload = is_upload
        self._random = random.Random(seed)
        self._plans: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.stored = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def next_fault(self, key: str) -> str | None:
        with self._lock:
            if key not in self._plans:
                failing = self._random.random() < self.share
                count = self._random.randint(1, self.max_failures) if failing else 0
                self._plans[key] = [
                    self._random.choice(self.faults) for _ in range(count)
                ]
            plan = self._plans[key]
            if not plan:
                return None
            fault = plan.pop(0)
            self.injected[fault] += 1
            return fault

    def count_stored(self) -> None:
        with self._lock:
            self.stored += 1

    @contextmanager
    def running(self) -> Iterator[FaultyProxy]:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # injected resets make the handler's socket calls fail


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultyProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        body = self._read_body()
        owner = self.owner
        fault = None
        if owner.is_upload(self.command, self.path):
            if owner.delay:
                time.sleep(owner.delay)
            fault = owner.next_fault(self.path.split("?", 1)[0])
        if fault == "reset":
            return self._reset()
        if fault in ("500", "503"):
            return self._fail(int(fault))
        if fault == "slow":
            time.sleep(owner.slow_seconds)
        status, headers, answer = self._forward(body)
        if owner.is_upload(self.command, self.path) and 200 <= status < 300:
            owner.count_stored()
        if fault == "reset_after_store":
            return self._reset()
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.owner.upstream, timeout=60)
        try:
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            return response.status, response.getheaders(), answer
        finally:
            connection.close()

    def _fail(self, status: int) -> None:
        code = "InternalError" if status == 500 else "SlowDown"
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body.encode())

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST, as a dropped
        # connection or a crashed load balancer does.
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.close_connection = True
        self.connection.close()
