"""A small client for the parts of Fastly's API an edge needs: edge
dictionary items (list, batch update) and purges by surrogate key.

The API token comes from the ``FASTLY_API_TOKEN`` environment variable of
the process that talks to Fastly; it is sent as ``Fastly-Key`` and never
stored, logged or put into an error message. Transient failures (429,
5xx, connection errors) are retried with backoff, honouring
``Retry-After``; any other failure raises :class:`FastlyError` with the
status and Fastly's own message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from keeper import __version__
from keeper.domain.retry_after import retry_after

DEFAULT_API_URL = "https://api.fastly.com"
TOKEN_ENV = "FASTLY_API_TOKEN"
#: Fastly's limits: items in one batch update, keys in one purge request.
MAX_BATCH = 1000
MAX_PURGE_KEYS = 256
#: Fastly's limits on one dictionary item.
MAX_KEY_LENGTH = 256
MAX_VALUE_LENGTH = 8000
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_T = TypeVar("_T")


class FastlyError(Exception):
    """A Fastly call that failed, or a client that cannot be set up.

    ``status`` is the HTTP status Fastly answered (None when it was never
    reached or never asked)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ItemOp:
    """One operation of a dictionary batch update."""

    op: Literal["upsert", "delete"]
    key: str
    value: str | None = None

    def as_json(self) -> dict[str, str]:
        out = {"op": self.op, "item_key": self.key}
        if self.value is not None:
            out["item_value"] = self.value
        return out


def diff_items(live: Mapping[str, str], wanted: Mapping[str, str]) -> list[ItemOp]:
    """The operations that turn ``live`` into ``wanted``: upserts for new
    and changed items, deletes for the rest, each in key order."""
    ops = [
        ItemOp("upsert", key, value)
        for key, value in sorted(wanted.items())
        if live.get(key) != value
    ]
    ops += [ItemOp("delete", key) for key in sorted(live) if key not in wanted]
    return ops


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Exponential backoff with full jitter (0.2 s doubling, at most 10 s).
DEFAULT_WAIT = wait_random_exponential(multiplier=0.2, max=10)


class FastlyClient:
    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        attempts: int = 5,
        wait: wait_base = DEFAULT_WAIT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise FastlyError(f"no Fastly API token: set {TOKEN_ENV}")
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.attempts = attempts
        self._wait = wait
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={
                "Fastly-Key": token,
                "Accept": "application/json",
                "User-Agent": f"ltd-keeper/{__version__}",
            },
            timeout=_TIMEOUT,
            transport=transport,
        )

    @classmethod
    def from_env(
        cls,
        *,
        api_url: str = DEFAULT_API_URL,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> FastlyClient:
        """A client with the token from ``FASTLY_API_TOKEN``."""
        token = (os.environ if environ is None else environ).get(TOKEN_ENV, "")
        if not token.strip():
            raise FastlyError(
                f"{TOKEN_ENV} is not set: keeper reads the Fastly API token "
                "from its environment (it is never stored)"
            )
        return cls(token.strip(), api_url=api_url, **kwargs)

    # -- dictionaries -------------------------------------------------------

    def list_items(
        self, service_id: str, dictionary_id: str, *, per_page: int = 100
    ) -> dict[str, str]:
        """Every item of an edge dictionary, following Fastly's pages."""
        path = f"{_dictionary_path(service_id, dictionary_id)}/items"
        items: dict[str, str] = {}
        page = 1
        paged_by_links = False
        while True:
            response = self._send(
                "GET",
                path,
                params={
                    "page": page,
                    "per_page": per_page,
                    "sort": "item_key",
                    "direction": "ascend",
                },
            )
            rows = response.json()
            if not isinstance(rows, list):
                raise FastlyError(
                    f"GET {path}: expected a list of items, got {type(rows).__name__}"
                )
            for row in rows:
                items[str(row["item_key"])] = str(row["item_value"])
            # Fastly names the next page in a Link header; an API that sends
            # none ends with a short page.
            paged_by_links = paged_by_links or "link" in response.headers
            more = "next" in response.links if paged_by_links else len(rows) >= per_page
            if not rows or not more:
                return items
            page += 1

    def update_items(
        self, service_id: str, dictionary_id: str, ops: Sequence[ItemOp]
    ) -> int:
        """Apply ``ops`` in batches of at most 1000; returns the requests sent."""
        path = f"{_dictionary_path(service_id, dictionary_id)}/items"
        for op in ops:
            _check_item(op)
        sent = 0
        for batch in chunks(ops, MAX_BATCH):
            self._send("PATCH", path, json={"items": [op.as_json() for op in batch]})
            sent += 1
        return sent

    # -- purging --------------------------------------------------------------

    def purge_keys(
        self, service_id: str, keys: Iterable[str], *, soft: bool = False
    ) -> int:
        """Purge everything tagged with any of ``keys``, at most 256 keys a
        request; ``soft`` marks content stale instead of evicting it.
        Returns the requests sent."""
        unique = list(dict.fromkeys(k for k in keys if k))
        for key in unique:
            if any(c.isspace() for c in key) or not key.isprintable():
                raise FastlyError(f"not a usable surrogate key: {key!r}")
        path = f"/service/{quote(service_id, safe='')}/purge"
        headers = {"Fastly-Soft-Purge": "1"} if soft else {}
        sent = 0
        for batch in chunks(unique, MAX_PURGE_KEYS):
            self._send(
                "POST", path, headers={**headers, "Surrogate-Key": " ".join(batch)}
            )
            sent += 1
        return sent

    # -- plumbing ---------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        # tenacity: transport errors and 429/5xx are retried; a last
        # retryable answer is returned for _error to describe.
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait_for,
            retry=retry_if_exception_type(httpx.TransportError)
            | retry_if_result(lambda r: r.status_code in _RETRY_STATUSES),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        try:
            response: httpx.Response = retrying(
                self._http.request,
                method,
                path,
                json=json,
                params=params,
                headers=headers,
            )
        except httpx.TransportError as exc:
            raise FastlyError(
                f"cannot reach Fastly's API at {self.api_url}: {exc!s}"
            ) from exc
        if response.is_success:
            return response
        raise _error(method, path, response)

    def _wait_for(self, state: RetryCallState) -> float:
        """What a 429/503 asks for (``Retry-After``), else the backoff."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after(outcome.result().headers)
            if asked is not None:
                return asked
        return float(self._wait(state))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FastlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dictionary_path(service_id: str, dictionary_id: str) -> str:
    return (
        f"/service/{quote(service_id, safe='')}"
        f"/dictionary/{quote(dictionary_id, safe='')}"
    )


def _check_item(op: ItemOp) -> None:
    if not op.key or len(op.key) > MAX_KEY_LENGTH:
        raise FastlyError(
            f"dictionary keys are 1 to {MAX_KEY_LENGTH} characters: {op.key!r}"
        )
    if op.value is not None and len(op.value) > MAX_VALUE_LENGTH:
        raise FastlyError(
            f"the value of dictionary item {op.key!r} is longer than "
            f"{MAX_VALUE_LENGTH} characters"
        )


def _error(method: str, path: str, response: httpx.Response) -> FastlyError:
    status = response.status_code
    detail = _message(response)
    where = f"{method} {path}"
    if status in (401, 403):
        hint = f"check {TOKEN_ENV} and the token's scope for this service"
        return FastlyError(
            f"{where}: Fastly refused the token ({status}: {detail}); {hint}",
            status=status,
        )
    if status == 404:
        return FastlyError(
            f"{where}: Fastly answered 404 ({detail}); check the service and "
            "dictionary ids",
            status=status,
        )
    return FastlyError(f"{where}: Fastly answered {status}: {detail}", status=status)


def _message(response: httpx.Response) -> str:
    """Fastly's own words: ``{"msg": …, "detail": …}``, or the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("msg", "detail") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return str(body)[:500]
