"""The built-in edge: reader requests answered straight from storage.

Every answer is what :func:`keeper.edge.rules.resolve` decides, with the
headers :func:`keeper.edge.rules.headers` gives it. Files stream from the
org's store in chunks on worker threads; a small file costs one thread hop
(open and read together), and nothing on the way asks the database while
:class:`keeper.edge.cache.EdgeCache` holds fresh views.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from sqlalchemy.engine import Engine
from starlette.types import Receive, Scope, Send

from keeper.domain.content_types import content_type_for
from keeper.domain.limits import MAX_EDGE_HEADER_BYTES, MAX_EDGE_HEADERS_BYTES
from keeper.edge import rules
from keeper.edge.cache import EdgeCache, FileMeta, Manifest, Routed, Site
from keeper.edge.conditional import Unsatisfiable, byte_range, etag_matches
from keeper.services.stores import StoreProvider
from keeper.storage import ObjectNotFound, ObjectStore, StorageError

log = logging.getLogger(__name__)

ALLOWED = "GET, HEAD"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
#: What a path re-encoded from its decoded form keeps: printable ASCII but
#: ``%``, which stands for itself there.
_RAW_SAFE = bytes(range(0x21, 0x7F)).decode().replace("%", "")
_WANTED = frozenset({b"host", b"cookie", b"if-none-match", b"range", b"if-range"})

RawHeaders = list[tuple[bytes, bytes]]


class _NeedManifest(Exception):
    """:func:`rules.resolve` asked about a build whose manifest is not
    loaded yet: load it (off the event loop) and decide again."""

    def __init__(self, build: str) -> None:
        self.build = build


class EdgeApp:
    """The products' hosts: :meth:`route` tells whether a request is the
    edge's, :meth:`serve` answers it the ASGI way.
    :class:`keeper.edge.dispatch.HostDispatch` puts it in front of the API.
    """

    def __init__(self, cache: EdgeCache, *, api_host: str = "") -> None:
        self.cache = cache
        #: Keeper's own host always reaches the API: orgs are refused sites
        #: there, and this holds even for rows older than that rule.
        self.api_host = api_host

    @classmethod
    def for_engine(
        cls, engine: Engine, stores: StoreProvider, *, api_host: str = ""
    ) -> EdgeApp:
        return cls(EdgeCache(engine, stores), api_host=api_host)

    async def route(self, scope: Scope) -> Routed | None:
        """The site a request is for, or None when it is not the edge's."""
        host = request_host(scope)
        if host is None or host == self.api_host:
            return None
        return await self.cache.route(host, raw_path(scope))

    async def serve(
        self, routed: Routed, scope: Scope, receive: Receive, send: Send
    ) -> None:
        site = routed.site
        view = site.view
        refused = _headers_problem(scope) or rules.target_problem(request_target(scope))
        if refused is not None:
            await _refuse(site, refused, scope["method"] == "HEAD", send)
            return
        wanted = _request_headers(scope)
        if scope["method"] not in ("GET", "HEAD"):
            headers = rules.headers(view, rules.Scope(), 405)
            headers.update({"Allow": ALLOWED, "Content-Type": TEXT})
            await _respond(send, 405, headers, b"method not allowed\n")
            return
        head = scope["method"] == "HEAD"
        query = scope["query_string"].decode("latin-1")
        if not routed.path:
            # A path-layout product asked for without its slash.
            suffix = f"?{query}" if query else ""
            decision: rules.Decision = rules.Redirect(f"{view.root}/{suffix}")
            fetched: dict[str, Manifest] = {}
        else:
            decision, fetched = await self._decide(
                site, routed.path, query, wanted.get(b"cookie")
            )
        if isinstance(decision, rules.Serve):
            meta = fetched[decision.build][decision.path]
            await self._serve_file(site, decision, meta, wanted, head, receive, send)
        elif isinstance(decision, rules.Redirect):
            headers = rules.headers(view, decision.scope, decision.status)
            # Already a URL: keeper's own text and the request's, as sent.
            headers["Location"] = decision.location
            await _respond(send, decision.status, headers, b"", head=head)
        elif isinstance(decision, rules.Generated):
            await _serve_generated(site, decision, wanted, head, send)
        elif isinstance(decision, rules.PlatformNotFound):
            await _not_found(site, decision.scope, head, send)
        else:
            await _refuse(site, decision, head, send)

    async def _decide(
        self, site: Site, path: str, query: str, cookie: str | None
    ) -> tuple[rules.Decision, dict[str, Manifest]]:
        """``rules.resolve`` with the manifests it asks about, loading each
        missing one off the event loop (at most once per build)."""
        fetched: dict[str, Manifest] = {}

        def has(build: str, file: str) -> bool:
            if build not in fetched:
                manifest = self.cache.manifests.get(manifest_id(site, build))
                if manifest is None:
                    raise _NeedManifest(build)
                # Kept for this request even if the cache evicts it.
                fetched[build] = manifest
            return file in fetched[build]

        while True:
            try:
                decision = rules.resolve(site.view, path, query, has=has, cookie=cookie)
            except _NeedManifest as need:
                fetched[need.build] = await self.cache.manifest(
                    need.build, cached_as=manifest_id(site, need.build)
                )
                continue
            return decision, fetched

    async def _serve_file(
        self,
        site: Site,
        decision: rules.Serve,
        meta: FileMeta,
        wanted: dict[bytes, str],
        head: bool,
        receive: Receive,
        send: Send,
    ) -> None:
        status = decision.status
        headers = rules.headers(site.view, decision.scope, status)
        headers["ETag"] = meta.etag
        if decision.pin and decision.scope.edition and decision.scope.pin_path:
            headers["Set-Cookie"] = rules.pin_cookie(
                decision.scope.edition, decision.build, decision.scope.pin_path
            )
        first, last = 0, meta.size - 1
        if status == 200:
            # Ranges and revalidation are for the file itself, not for a
            # 404 page that stands in for a missing one.
            headers["Accept-Ranges"] = "bytes"
            if_none_match = wanted.get(b"if-none-match")
            if if_none_match is not None and etag_matches(if_none_match, meta.etag):
                await _respond(send, 304, headers, None)
                return
            asked = _asked_range(wanted, meta)
            if isinstance(asked, Unsatisfiable):
                headers["Content-Range"] = f"bytes */{meta.size}"
                await _respond(send, 416, headers, b"", head=head)
                return
            if asked is not None:
                status, (first, last) = 206, asked
                headers["Content-Range"] = f"bytes {first}-{last}/{meta.size}"
        headers["Content-Type"] = meta.content_type
        headers["Content-Length"] = str(last - first + 1)
        start = _start(status, headers)
        if head:
            await send(start)
            await send({"type": "http.response.body", "body": b""})
            return
        key = meta.key
        whole = status != 206
        try:
            chunk, rest = await anyio.to_thread.run_sync(
                _open,
                site.store,
                key,
                None if whole else first,
                None if whole else last,
                last - first + 1,
            )
        except StorageError:
            log.exception("cannot read %s for %s", key, site.view.host)
            await _respond(
                send, 503, {"Content-Type": TEXT}, b"storage is not answering\n"
            )
            return
        await send(start)
        await send(
            {"type": "http.response.body", "body": chunk, "more_body": rest is not None}
        )
        if rest is not None:
            await _send_rest(send, receive, rest)


def manifest_id(site: Site, build: str) -> str:
    """The name a build's manifest is cached under: a build converted by
    ``keeper storage migrate`` reads its files elsewhere from then on, so
    its manifest is cached anew."""
    view = site.view.builds.get(build)
    return build if view is None or view.content_addressed else f"{build}@prefix"


async def _refuse(
    site: Site, refused: rules.BadRequest, head: bool, send: Send
) -> None:
    headers = rules.headers(site.view, rules.Scope(), refused.status)
    headers["Content-Type"] = TEXT
    word = "URI too long" if refused.status == 414 else "bad request"
    body = f"{word}: {refused.reason}\n".encode()
    await _respond(send, refused.status, headers, body, head=head)


async def _serve_generated(
    site: Site,
    decision: rules.Generated,
    wanted: dict[bytes, str],
    head: bool,
    send: Send,
) -> None:
    """One of the pages keeper writes for the product (``/v/`` …). They are
    small and change on every publish: read whole, never cached here, so a
    page written a moment ago by another keeper process is what readers get.
    """
    key = site.view.meta_prefix + decision.page
    try:
        body = await anyio.to_thread.run_sync(site.store.get, key)
    except ObjectNotFound:
        await _not_found(site, decision.scope, head, send)
        return
    except StorageError:
        log.exception("cannot read %s for %s", key, site.view.host)
        await _respond(
            send, 503, {"Content-Type": TEXT}, b"storage is not answering\n", head=head
        )
        return
    headers = rules.headers(site.view, decision.scope, 200)
    etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
    headers["ETag"] = etag
    if_none_match = wanted.get(b"if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, etag):
        await _respond(send, 304, headers, None)
        return
    headers["Content-Type"] = content_type_for(decision.page)
    await _respond(send, 200, headers, body, head=head)


async def _not_found(site: Site, scope: rules.Scope, head: bool, send: Send) -> None:
    headers = rules.headers(site.view, scope, 404)
    headers["Content-Type"] = HTML
    # Rendered once per site view: an org's template takes a worker's round
    # trip, or up to its render budget, which the event loop must not wait.
    page = site.cached_not_found_page or await anyio.to_thread.run_sync(
        site.not_found_page
    )
    await _respond(send, 404, headers, page, head=head)


def request_host(scope: Scope) -> str | None:
    """The request's Host in lower case, without port or trailing dot
    (:class:`keeper.edge.dispatch.HostDispatch` has refused malformed ones)."""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # an IPv6 literal
                return host[: host.find("]") + 1] or None
            name_part, colon, port = host.rpartition(":")
            if colon and (port.isdigit() or not port):
                host = name_part
            return host.removesuffix(".") or None
    return None


def host_values(scope: Scope) -> list[str]:
    """The values of the request's Host header fields."""
    return [
        value.decode("latin-1").strip()
        for name, value in scope["headers"]
        if name == b"host"
    ]


def request_target(scope: Scope) -> str:
    """The path and query as the client sent them."""
    query: bytes = scope.get("query_string", b"")
    path = raw_path(scope)
    return f"{path}?{query.decode('latin-1')}" if query else path


def raw_path(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded, without query."""
    raw: bytes | None = scope.get("raw_path")
    if raw is None:  # servers may leave it out: re-encode the decoded path
        return quote(scope["path"], safe=_RAW_SAFE)
    # Bytes as they came (latin-1 maps each to one character): one that is
    # not printable ASCII is then refused by rules.BAD_RAW_PATH.
    return raw.partition(b"?")[0].decode("latin-1")


def _headers_problem(scope: Scope) -> rules.BadRequest | None:
    """A header field, or all of them, larger than nginx and Varnish take:
    the request is refused as they refuse it (400)."""
    total = 0
    for name, value in scope["headers"]:
        size = len(name) + len(value)
        if size > MAX_EDGE_HEADER_BYTES:
            return rules.BadRequest(
                f"a header field is longer than {MAX_EDGE_HEADER_BYTES} bytes"
            )
        total += size
    if total > MAX_EDGE_HEADERS_BYTES:
        return rules.BadRequest(
            f"the header fields are longer than {MAX_EDGE_HEADERS_BYTES} bytes"
        )
    return None


def _request_headers(scope: Scope) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED:
            text = value.decode("latin-1")
            # Several Cookie headers are one list (RFC 6265 §5.4).
            found[name] = f"{found[name]}; {text}" if name in found else text
    return found


def _asked_range(
    wanted: dict[bytes, str], meta: FileMeta
) -> tuple[int, int] | Unsatisfiable | None:
    header = wanted.get(b"range")
    if header is None:
        return None
    if_range = wanted.get(b"if-range")
    # A range of another version of the file would be garbage: send it all.
    if if_range is not None and if_range.strip() != meta.etag:
        return None
    return byte_range(header, meta.size)


def _open(
    store: ObjectStore, key: str, start: int | None, end: int | None, length: int
) -> tuple[bytes, Iterator[bytes] | None]:
    """Open ``key`` and read its first chunk in one trip to a worker thread;
    the rest, if any, comes from the returned iterator."""
    chunks = store.open(key, start=start, end=end)
    chunk = next(chunks, b"")
    if len(chunk) >= length:
        _close(chunks)
        return chunk, None
    return chunk, chunks


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


async def _send_rest(send: Send, receive: Receive, chunks: Iterator[bytes]) -> None:
    """Stream the remaining chunks; stop reading when the client leaves
    (ASGI servers drop what is sent after a disconnect without saying so)."""

    async def watch(cancel: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        cancel.cancel()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(watch, group.cancel_scope)
            while (
                chunk := await anyio.to_thread.run_sync(next, chunks, None)
            ) is not None:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_close, chunks)


def _start(status: int, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ],
    }


async def _respond(
    send: Send,
    status: int,
    headers: dict[str, str],
    body: bytes | None,
    *,
    head: bool = False,
) -> None:
    """A whole answer in memory; ``body`` None means none at all (304)."""
    if body is not None:
        headers["Content-Length"] = str(len(body))
    await send(_start(status, headers))
    await send({"type": "http.response.body", "body": b"" if head else body or b""})
