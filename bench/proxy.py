"""A counting TCP forwarder: every byte each way, per kind of connection.

Counting at the TCP level is fair to every client (HTTP/1.1 headers,
multipart framing, retries and keep-alive all count, as they do on a real
network) and needs nothing from the client. The forwarder runs an asyncio
loop (uvloop when installed) in a thread of the benchmark process, which is
otherwise idle while the tools run as subprocesses, and moves data in large
reads so its own cost stays small.

A connection is sorted by its first request: one that carries an
``Authorization`` header is *signed* (an S3 client with credentials: s5cmd,
aws, or keeper's own boto3 client), and so is a GET (keeper reading an
object back through a presigned URL, to hash it); the rest are *unsigned*
(a presigned PUT or a browser-style form POST, as ``ltd`` sends). Keeper's
storage traffic goes through the same forwarder as the client's uploads,
because presigned URLs name the endpoint keeper was given; this split tells
the two apart.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_CHUNK = 1024 * 1024
_HEAD_LIMIT = 64 * 1024
#: How long a half-closed connection may wait for its other side to close.
_LINGER = 5.0


@dataclass
class Traffic:
    """Bytes each way and connections, by kind of connection."""

    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    connections: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.sent - other.sent,
            self.received - other.received,
            self.connections - other.connections,
        )

    def copy(self) -> Traffic:
        return Traffic(
            Counter(self.sent), Counter(self.received), Counter(self.connections)
        )


class CountingProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream`` and count the bytes."""

    def __init__(self, upstream: str, name: str) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname and parts.port, upstream
        self.upstream = (parts.hostname, parts.port)
        self.name = name
        self._traffic = Traffic()
        self._lock = threading.Lock()
        self._loop = _new_loop()
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"proxy-{name}", daemon=True
        )
        self.port = 0
        # asyncio holds tasks weakly: keep every open connection's pipes.
        self._pipes: set[asyncio.Future[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def snapshot(self) -> Traffic:
        with self._lock:
            return self._traffic.copy()

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        if not self.port:
            raise RuntimeError(f"the {self.name} proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(
                self._accept, "127.0.0.1", 0, limit=_CHUNK, backlog=1024
            )
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _count(self, kind: str, *, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            self._traffic.sent[kind] += sent
            self._traffic.received[kind] += received

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                *self.upstream, limit=_CHUNK
            )
        except OSError:
            writer.close()
            return
        head = bytearray()
        kind = ""
        held = 0  # bytes sent before the request head was complete

        def sent(chunk: bytes) -> None:
            nonlocal kind, held
            if kind:
                self._count(kind, sent=len(chunk))
                return
            head.extend(chunk[: _HEAD_LIMIT - len(head)])
            held += len(chunk)
            if b"\r\n\r\n" in head or len(head) >= _HEAD_LIMIT:
                kind = _classify(bytes(head))
                with self._lock:
                    self._traffic.connections[kind] += 1
                self._count(kind, sent=held)

        def received(chunk: bytes) -> None:
            self._count(kind or "unknown", received=len(chunk))

        tasks = [
            asyncio.ensure_future(_pipe(reader, up_writer, sent)),
            asyncio.ensure_future(_pipe(up_reader, writer, received)),
        ]
        self._pipes.update(tasks)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if any(t.exception() for t in done):
                # A reset on one side: drop the other at once, as a real
                # network path would, rather than wait on a dead peer.
                writer.transport.abort()
                up_writer.transport.abort()
            else:
                # One side closed and its EOF was passed on; some servers
                # never close a half-closed idle connection, so do not wait
                # on them for ever.
                _, pending = await asyncio.wait(tasks, timeout=_LINGER)
                if pending:
                    writer.transport.abort()
                    up_writer.transport.abort()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._pipes.difference_update(tasks)
            if not kind and held:
                self._count("unknown", sent=held)
            writer.close()
            up_writer.close()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    seen: Callable[[bytes], None],
) -> None:
    while chunk := await reader.read(_CHUNK):
        writer.write(chunk)
        seen(chunk)
        if writer.transport.get_write_buffer_size() > _CHUNK:
            await writer.drain()
    if writer.can_write_eof() and not writer.is_closing():
        writer.write_eof()


def _classify(head: bytes) -> str:
    headers = head.split(b"\r\n\r\n", 1)[0].lower()
    # Keeper reads objects back through presigned GETs too (to hash them);
    # clients only ever write.
    if b"\r\nauthorization:" in headers or headers.startswith(b"get "):
        return "signed"
    return "unsigned"


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
