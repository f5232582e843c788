"""``keeper demo``: the whole platform on one machine, from nothing.

Keeper runs in this process (SQLite, a folder as the store, the built-in
edge), while a setup thread does what a team would: create an org, a
product and an uploader token through the API, build a Sphinx project as
two versions and publish both with the real ``ltd upload``. Everything
lives in one folder, so running it again reuses what is there: the org and
product are found, identical uploads send nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from keeper.app import create_app
from keeper.config import Settings

ADMIN_TOKEN = "demo-admin-token"
ORG = "demo"
PRODUCT = "example"
#: ``*.localhost`` names reach this machine in every current browser, so
#: each product gets its own host, as it would on a real domain.
BASE_DOMAIN = "localhost"
#: (docs version, git ref): the first becomes release editions ``1`` and
#: ``1.0``, the second the default edition (``main`` is what it tracks).
VERSIONS = (("1.0", "v1.0.0"), ("2.0", "main"))


class DemoError(Exception):
    pass


@dataclass
class Demo:
    workdir: Path
    docs: Path
    port: int
    host: str = "127.0.0.1"
    say: Callable[[str], None] = print
    #: Set by the setup thread: the URLs to open, or why setup failed.
    urls: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def api(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def site(self) -> str:
        return f"http://{PRODUCT}.{BASE_DOMAIN}:{self.port}/"

    def settings(self) -> Settings:
        data = self.workdir.resolve()
        return Settings(
            database_url=f"sqlite:///{data / 'keeper.sqlite3'}",
            storage_url=f"file://{data / 'storage'}",
            base_url=self.api,
            bootstrap_token=SecretStr(ADMIN_TOKEN),
            secret_key_file=data / "secret-key",
        )

    # -- the setup a team would do ---------------------------------------------

    def set_up(self) -> None:
        with httpx.Client(
            base_url=self.api,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        ) as client:
            # Plain HTTP on the demo's port, so the URLs keeper and ltd
            # report are the ones to open (a later run may use another port).
            site: dict[str, object] = {
                "base_domain": BASE_DOMAIN,
                "site_scheme": "http",
                "site_port": self.port,
            }
            self._ensure(
                client,
                f"/api/orgs/{ORG}",
                "/api/orgs",
                {"slug": ORG, "title": "Demo organization", **site},
                update=site,
            )
            self._ensure(
                client,
                f"/api/orgs/{ORG}/products/{PRODUCT}",
                f"/api/orgs/{ORG}/products",
                {"slug": PRODUCT, "title": "Lanternfish"},
            )
            token = _ok(
                client.post(
                    f"/api/orgs/{ORG}/tokens",
                    json={"role": "uploader", "name": "keeper demo"},
                ),
                "create an uploader token",
            )["token"]
        for version, git_ref in VERSIONS:
            html = self.build_docs(version)
            self.upload(html, git_ref, token)
        self.urls = {
            "site": self.site,
            "every version": f"{self.site}v/",
            "version 1.0": f"{self.site}v/1.0/",
            "builds": f"{self.site}builds/",
            "API docs": f"{self.api}/docs",
        }

    def _ensure(
        self,
        client: httpx.Client,
        url: str,
        create: str,
        body: dict[str, object],
        update: dict[str, object] | None = None,
    ) -> None:
        found = client.get(url)
        if found.status_code == 404:
            _ok(client.post(create, json=body), f"create {url}")
        elif update:
            _ok(client.patch(url, json=update), f"update {url}")
        else:
            _ok(found, f"read {url}")

    def build_docs(self, version: str) -> Path:
        out = self.workdir / "html" / version
        self.say(f"building the example docs as version {version}")
        env = {**os.environ, "EXAMPLE_DOCS_VERSION": version}
        _run(
            [_tool("sphinx-build"), "-q", "-b", "html", str(self.docs), str(out)],
            env,
            f"sphinx-build of version {version}",
        )
        return out

    def upload(self, html: Path, git_ref: str, token: str) -> None:
        self.say(f"ltd upload --git-ref {git_ref}")
        ltd_upload(self.api, token, PRODUCT, html, git_ref)


def ltd_upload(api: str, token: str, product: str, html: Path, git_ref: str) -> None:
    """Publish ``html`` to the demo org with the real ``ltd upload``."""
    env = {
        **os.environ,
        "LTD_HOST": api,
        "LTD_TOKEN": token,
        # The refs are given explicitly; a CI runner's own skip switch must
        # not skip these uploads.
        "LTD_SKIP_UPLOAD": "",
    }
    command = [_tool("ltd"), "upload", "--org", ORG, "--product", product]
    command += ["--dir", str(html), "--git-ref", git_ref, "--no-progress"]
    _run(command, env, f"ltd upload of {product} at {git_ref}")


def run(demo: Demo) -> int:
    """Serve until interrupted; returns the exit status."""
    _check_port_free(demo.host, demo.port)
    demo.workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(demo.settings())
    server = uvicorn.Server(
        uvicorn.Config(app, host=demo.host, port=demo.port, log_level="warning")
    )

    def setup() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        try:
            demo.set_up()
            # The pages (/v/, switchers) are written by keeper's jobs just
            # after each upload: the URLs are ready once they are done
            # (`ltd upload` waited for them too, unless workers run them).
            if app.state.jobs is not None:
                app.state.jobs.wait_idle(timeout=120)
        except (DemoError, TimeoutError) as exc:
            demo.error = str(exc)
            server.should_exit = True
            return
        width = max(len(k) for k in demo.urls)
        demo.say("\nThe demo is ready:")
        for label, url in demo.urls.items():
            demo.say(f"  {label:<{width}}  {url}")
        demo.say(
            f"\nAdmin token: {ADMIN_TOKEN}. Without a browser: "
            f"curl -H 'Host: {PRODUCT}.{BASE_DOMAIN}' {demo.api}/v/switcher.json"
        )
        demo.say("Press Ctrl+C to stop.")

    thread = threading.Thread(target=setup, name="demo-setup", daemon=True)
    thread.start()
    # uvicorn shuts down cleanly, then passes Ctrl+C on: that is the demo's
    # normal end, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    thread.join(timeout=5)
    if demo.error:
        demo.say(f"demo setup failed: {demo.error}")
        return 1
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            raise DemoError(
                f"something already listens on {host}:{port} (another demo?); "
                "stop it or choose another port with --port"
            )


def _tool(name: str) -> str:
    """A command installed beside this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise DemoError(f"{what}: {exc}") from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise DemoError(f"{what} failed (exit {done.returncode}):\n{output}")
    for line in done.stdout.splitlines():
        print(f"  {line}")


def _ok(response: httpx.Response, what: str) -> dict:
    if response.is_success:
        body: dict = response.json()
        return body
    raise DemoError(f"could not {what}: {response.status_code} {response.text}")


def default_docs() -> Path | None:
    """The example project, when keeper runs from a checkout."""
    found = Path(__file__).resolve().parents[1] / "examples" / "sphinx"
    return found if (found / "conf.py").exists() else None
