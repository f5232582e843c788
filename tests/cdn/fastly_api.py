"""A stand-in for the parts of Fastly's API keeper uses, as a real HTTP
server on a free port of 127.0.0.1.

It holds edge dictionaries (so a listing shows what earlier updates did),
records every request, and checks each one as Fastly would: the
``Fastly-Key`` header, paths and methods, the JSON of a batch update, at
most 1000 items a batch and 256 surrogate keys a purge. A request that
breaks a rule is answered with Fastly's kind of error and noted in
:attr:`FastlyStandin.problems`, which a test expects to stay empty.
Failures can be queued with :meth:`FastlyStandin.fail_next`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BATCH = 1000
MAX_PURGE_KEYS = 256
MAX_PER_PAGE = 1000
_ITEMS = re.compile(r"^/service/([^/]+)/dictionary/([^/]+)/items$")
_PURGE = re.compile(r"^/service/([^/]+)/purge$")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def ops(self) -> list[dict[str, Any]]:
        """The item operations of a batch update."""
        items: list[dict[str, Any]] = (self.body or {}).get("items", [])
        return items

    @property
    def keys(self) -> list[str]:
        """The surrogate keys of a purge."""
        return self.headers.get("surrogate-key", "").split()


@dataclass
class Failure:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FastlyStandin:
    token: str
    service_id: str
    dictionaries: dict[str, dict[str, str]]
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
        msg: str = "stand-in failure",
    ) -> None:
        """Answer the next ``count`` requests with ``status``."""
        with self.lock:
            for _ in range(count):
                self.failures.append(
                    Failure(status, dict(headers or {}), {"msg": msg, "detail": ""})
                )

    def seen(self, method: str | None = None, kind: str | None = None) -> list[Request]:
        """Recorded requests, by method and by kind (``items`` or ``purge``)."""
        with self.lock:
            found = list(self.requests)
        if method:
            found = [r for r in found if r.method == method]
        if kind == "items":
            found = [r for r in found if _ITEMS.match(r.path)]
        elif kind == "purge":
            found = [r for r in found if _PURGE.match(r.path)]
        return found

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- answering ----------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        with self.lock:
            self.requests.append(Request(method, parts.path, query, headers, body))
            if self.failures:
                failure = self.failures.pop(0)
                return failure.status, failure.headers, failure.body
            return self._answer(method, parts.path, query, headers, body)

    def _problem(self, status: int, msg: str) -> tuple[int, dict[str, str], Any]:
        self.problems.append(msg)
        return status, {}, {"msg": msg, "detail": ""}

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        key = headers.get("fastly-key")
        if key is None:
            return self._problem(401, "Provided credentials are missing or invalid")
        if key != self.token:
            # A wrong token is what a test of errors sends on purpose.
            return 401, {}, {"msg": "Provided credentials are missing or invalid"}
        if match := _ITEMS.match(path):
            service, dictionary = match.groups()
            if service != self.service_id or dictionary not in self.dictionaries:
                return 404, {}, {"msg": "Record not found", "detail": "no dictionary"}
            if method == "GET":
                return self._list(path, dictionary, query)
            if method == "PATCH":
                return self._batch(dictionary, headers, body)
            return self._problem(405, f"{method} {path}: not allowed")
        if match := _PURGE.match(path):
            if match.group(1) != self.service_id:
                return 404, {}, {"msg": "Record not found", "detail": "no service"}
            if method != "POST":
                return self._problem(405, f"{method} {path}: not allowed")
            return self._purge(headers)
        return self._problem(404, f"{method} {path}: no such endpoint")

    def _list(
        self, path: str, dictionary: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "20"))
        except ValueError:
            return self._problem(400, f"bad page or per_page: {query}")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            return self._problem(400, f"page/per_page out of range: {query}")
        items = sorted(self.dictionaries[dictionary].items())
        start = (page - 1) * per_page
        rows = [
            {
                "dictionary_id": dictionary,
                "service_id": self.service_id,
                "item_key": k,
                "item_value": v,
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
                "deleted_at": None,
            }
            for k, v in items[start : start + per_page]
        ]
        headers = {}
        if start + per_page < len(items):
            headers["Link"] = (
                f'<{self.url}{path}?page={page + 1}&per_page={per_page}>; rel="next"'
            )
        return 200, headers, rows

    def _batch(
        self, dictionary: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if not headers.get("content-type", "").startswith("application/json"):
            return self._problem(415, "a batch update must be JSON")
        if not isinstance(body, dict) or set(body) != {"items"}:
            return self._problem(400, f'a batch update is {{"items": [...]}}: {body!r}')
        items = body["items"]
        if not isinstance(items, list) or not items:
            return self._problem(400, "a batch update needs at least one item")
        if len(items) > MAX_BATCH:
            return self._problem(
                400, f"Exceeded the limit of {MAX_BATCH} items: {len(items)}"
            )
        state = dict(self.dictionaries[dictionary])
        for item in items:
            op = item.get("op") if isinstance(item, dict) else None
            item_key = item.get("item_key") if isinstance(item, dict) else None
            if op not in ("create", "update", "upsert", "delete"):
                return self._problem(400, f"bad op in {item!r}")
            if not isinstance(item_key, str) or not 0 < len(item_key) <= 256:
                return self._problem(400, f"bad item_key in {item!r}")
            allowed = {"op", "item_key"} | ({"item_value"} if op != "delete" else set())
            if set(item) - allowed:
                return self._problem(400, f"unexpected fields in {item!r}")
            if op == "delete":
                if item_key not in state:
                    return self._problem(404, f"no item {item_key!r} to delete")
                del state[item_key]
                continue
            value = item.get("item_value")
            if not isinstance(value, str) or len(value) > 8000:
                return self._problem(400, f"bad item_value in {item!r}")
            if op == "create" and item_key in state:
                return self._problem(409, f"item {item_key!r} exists")
            if op == "update" and item_key not in state:
                return self._problem(404, f"no item {item_key!r} to update")
            state[item_key] = value
        self.dictionaries[dictionary] = state
        return 200, {}, {"status": "ok"}

    def _purge(self, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        keys = headers.get("surrogate-key", "").split()
        if not keys:
            return self._problem(400, "a purge needs a Surrogate-Key header")
        if len(keys) > MAX_PURGE_KEYS:
            return self._problem(
                400, f"at most {MAX_PURGE_KEYS} keys a purge, not {len(keys)}"
            )
        for key in keys:
            if len(key.encode()) > 1024 or not all(0x21 <= ord(c) <= 0x7E for c in key):
                return self._problem(400, f"bad surrogate key {key!r}")
        soft = headers.get("fastly-soft-purge")
        if soft not in (None, "1"):
            return self._problem(400, f"Fastly-Soft-Purge is 1, not {soft!r}")
        return 200, {}, {key: f"purge-{n}" for n, key in enumerate(keys)}


class _Handler(BaseHTTPRequestHandler):
    standin: FastlyStandin
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, body = self.standin.answer(self.command, self.path, headers, raw)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fastly_standin(
    token: str = "fastly-test-token",
    service_id: str = "SVC",
    dictionaries: tuple[str, ...] = ("DICT-EDITIONS", "DICT-BUILDS"),
) -> Iterator[FastlyStandin]:
    """Run the stand-in until the ``with`` block ends."""
    standin = FastlyStandin(
        token=token,
        service_id=service_id,
        dictionaries={d: {} for d in dictionaries},
    )
    handler = type("Handler", (_Handler,), {"standin": standin})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
