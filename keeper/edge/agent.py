"""``keeper edge agent``: keeps an nginx or Varnish on another host on the
configuration keeper renders for it.

It asks keeper for its edge's files (a conditional GET: an unchanged
configuration costs a 304), writes them whole, has the server check and
load them, and reports the version it applied, or its error, back to
keeper. That report is what tells keeper the edge shows a publish. No
filesystem is shared with keeper: the agent needs only its URL and an
``edge`` token of the org.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from keeper.edge.configs import write_files
from keeper.edge.origin import Origin
from keeper.edge.render import RenderContext, target

log = logging.getLogger(__name__)


class AgentError(Exception):
    """The agent cannot go on (wrong edge, folder, token)."""


class NotReady(Exception):
    """Keeper is still preparing what the edge reads (its org's builds as
    plain files): keep the current configuration and ask again."""


@dataclass
class Agent:
    keeper: str
    token: str
    org: str
    edge_id: int
    #: Where this host's server reads the files; must be the folder the
    #: edge was recorded with (the files name it).
    out_dir: Path | None = None
    #: Options of this host (``nginx=PATH`` …), over the edge's own.
    options: dict[str, Any] = field(default_factory=dict)
    interval: float = 2.0
    _etag: str | None = None

    @property
    def _base(self) -> str:
        return f"{self.keeper.rstrip('/')}/api/orgs/{self.org}/edges/{self.edge_id}"

    def run(self, stop: threading.Event | None = None) -> None:
        """Apply every new configuration until ``stop`` is set; a keeper
        that cannot be reached is asked again at the next interval."""
        stop = stop or threading.Event()
        with self._client() as client:
            while not stop.is_set():
                try:
                    self.sync(client)
                except httpx.HTTPError as exc:
                    log.warning("keeper could not be asked: %s", exc)
                except NotReady as exc:
                    log.info("not ready yet: %s", exc)
                stop.wait(self.interval)

    def sync_when_ready(self, timeout: float = 300.0) -> bool:
        """:meth:`sync`, asking again while keeper is still preparing the
        edge's builds (a new edge of an org with many), for ``timeout``
        seconds at most."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.sync()
            except NotReady as exc:
                if time.monotonic() > deadline:
                    raise AgentError(
                        f"keeper was still not ready after {timeout:.0f}s: {exc}"
                    ) from exc
                time.sleep(min(self.interval, 1.0))

    def sync(self, client: httpx.Client | None = None) -> bool:
        """Fetch and apply the configuration if it changed; True if it did
        (or failed to apply, which was reported)."""
        if client is None:
            with self._client() as own:
                return self.sync(own)
        headers = {"If-None-Match": self._etag} if self._etag else {}
        answer = client.get(f"{self._base}/config", headers=headers)
        if answer.status_code == 304:
            return False
        if answer.status_code == 503:
            raise NotReady(answer.text)
        if answer.status_code in (401, 403, 404):
            raise AgentError(f"keeper refused the edge's configuration: {answer.text}")
        answer.raise_for_status()
        config = answer.json()
        out = Path(config["out_dir"])
        if self.out_dir is not None and self.out_dir.resolve() != out:
            raise AgentError(
                f"edge {self.edge_id} was recorded with the folder {out}, "
                f"not {self.out_dir}: its files name that folder"
            )
        error = None
        try:
            self._apply(config, out)
        except Exception as exc:  # reported to keeper, which shows it
            error = f"{type(exc).__name__}: {exc}"
            log.warning("applying version %s failed: %s", config["version"], error)
        report = {"version": config["version"], "error": error}
        if error is None:
            report["applied"] = config["seqs"]
        client.post(f"{self._base}/status", json=report).raise_for_status()
        # A version that failed is not tried again until keeper's changes.
        self._etag = answer.headers.get("ETag")
        if error is None:
            log.info("applied version %s", config["version"])
        return True

    def _apply(self, config: dict[str, Any], out: Path) -> None:
        edge_target = target(config["target"])
        write_files(out, config["files"])
        settings = {**config["settings"], **self.options}
        ctx = RenderContext(
            org=self.org,
            sites=(),
            pages={},
            origin=Origin(kind="agent"),
            listen_host="",
            listen_port=0,
            out_dir=out,
            settings=settings,
        )
        # Checks the files (nginx -t, VCL compile) and reloads the running
        # server; a server that refuses them keeps its configuration.
        edge_target.activate(ctx, ())

    def _client(self) -> httpx.Client:
        return httpx.Client(
            headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
