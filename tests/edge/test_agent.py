"""`keeper edge agent` beside a real nginx: it fetches the edge's files from
keeper's API (no shared configuration folder), has nginx load them, and
reports back, which is what publishes the editions."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.edge.nginx import running_nginx
from tests.edge.varnish import running_varnish
from tests.publishing import create_lsst_pipelines, publish, site
from tests.served import ServedKeeper, keeper_binary, served_keeper
from tests.servers import eventually, free_port

BASE = "/api/orgs/lsst/products/pipelines"
EDGES = "/api/orgs/lsst/edges"


def agent(keeper: ServedKeeper, token: str, edge: int, *args: str) -> list[str]:
    return [
        keeper_binary(),
        "edge",
        "agent",
        "--keeper",
        keeper.url,
        "--token",
        token,
        "--org",
        "lsst",
        "--edge",
        str(edge),
        *args,
    ]


def varnish_instance(out: Path) -> Path:
    """The varnishd instance name beside ``out``: how the agent's reload
    finds this varnishd."""
    return out.parent / "varnishd"


@contextmanager
def varnish_server(out: Path, port: int) -> Iterator[None]:
    with running_varnish(out, port, varnish_instance(out)):
        yield


#: target -> (the edge's settings, given its folder; how to run its server).
SERVERS: dict[
    str,
    tuple[
        Callable[[Path], dict[str, str]],
        Callable[[Path, int], AbstractContextManager[None]],
    ],
] = {
    "nginx": (lambda out: {}, running_nginx),
    "varnish": (
        lambda out: {"varnish_name": str(varnish_instance(out))},
        varnish_server,
    ),
}


@pytest.mark.parametrize("target", sorted(SERVERS))
def test_an_agent_keeps_its_server_on_what_keeper_publishes(
    tmp_path: Path, target: str
) -> None:
    settings, serve = SERVERS[target]
    out = tmp_path / f"agent-{target}"
    port = free_port()
    # nginx reads a filesystem store's objects where keeper stores them (on
    # this one machine; elsewhere it would read them from S3), Varnish
    # through keeper's origin route.
    env = {"KEEPER_STORAGE_URL": f"file://{tmp_path / 'storage'}"}
    with served_keeper(tmp_path / "keeper", env) as keeper:
        client, auth = keeper.client, keeper.auth()
        create_lsst_pipelines(client, auth)
        r = client.post(
            EDGES,
            headers=auth,
            json={
                "target": target,
                "listen": f"127.0.0.1:{port}",
                "out": str(out),
                "settings": settings(out),
            },
        )
        assert r.status_code == 201, r.text
        edge = r.json()["id"]
        r = client.post(
            "/api/orgs/lsst/tokens", headers=auth, json={"role": "edge", "name": "a"}
        )
        assert r.status_code == 201, r.text
        token = r.json()["token"]

        # The edge token does nothing else, not even a reader's listing.
        as_edge = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/orgs/lsst/jobs", headers=as_edge).status_code == 403
        r = client.post(
            "/api/orgs/lsst/products", headers=as_edge, json={"slug": "x", "title": "X"}
        )
        assert r.status_code == 403

        # An agent pointed at another folder refuses: the files name theirs.
        wrong = subprocess.run(
            agent(keeper, token, edge, "--once", "--out", str(tmp_path / "elsewhere")),
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        assert wrong.returncode != 0 and str(out) in wrong.stderr

        # The first files, before the server that loads them starts.
        first = subprocess.run(
            agent(keeper, token, edge, "--once"),
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        assert first.returncode == 0, first.stderr
        assert any(out.iterdir())

        log = (tmp_path / "agent.log").open("wb")
        running = subprocess.Popen(
            agent(keeper, token, edge, "--interval", "0.2"),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
        try:
            with serve(out, port):
                reader = httpx.Client(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Host": "pipelines.lsst.io"},
                )
                for label in ("first", "second"):
                    build = publish(client, BASE, auth, site(label))

                    def published() -> bool:
                        main = client.get(f"{BASE}/editions/__main").json()
                        return bool(main["publish_status"] == "published")

                    # Published only once the agent reported what its
                    # server has.
                    eventually(published)
                    main = client.get(f"{BASE}/editions/__main").json()
                    assert main["build_id"] == build["id"]
                    page = reader.get("/")
                    assert page.status_code == 200 and label in page.text, page.text
                r = client.get(EDGES, headers=auth)
                (listed,) = r.json()
                assert listed["agent"] and listed["last_error"] is None
                assert listed["applied"]
        finally:
            running.terminate()
            running.wait(timeout=30)
            log.close()
        assert "applied version" in (tmp_path / "agent.log").read_text()


def test_an_unchanged_configuration_is_a_304(tmp_path: Path) -> None:
    with served_keeper(tmp_path / "keeper") as keeper:
        client, auth = keeper.client, keeper.auth()
        create_lsst_pipelines(client, auth)
        r = client.post(
            EDGES,
            headers=auth,
            json={"target": "nginx", "listen": "127.0.0.1:8080", "out": "/srv/edge"},
        )
        edge = r.json()["id"]
        first = client.get(f"{EDGES}/{edge}/config", headers=auth)
        assert first.status_code == 200 and first.json()["out_dir"] == "/srv/edge"
        etag = first.headers["ETag"]
        again = client.get(
            f"{EDGES}/{edge}/config", headers={**auth, "If-None-Match": etag}
        )
        assert again.status_code == 304
        publish(client, BASE, auth, site("one"))
        changed = client.get(
            f"{EDGES}/{edge}/config", headers={**auth, "If-None-Match": etag}
        )
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        # Until the agent reports, the edition waits for this edge.
        main = client.get(f"{BASE}/editions/__main").json()
        assert main["publish_status"] == "pending"
        r = client.post(
            f"{EDGES}/{edge}/status",
            headers=auth,
            json={"version": changed.json()["version"], "error": "nginx -t: bad"},
        )
        assert r.status_code == 204
        assert (
            client.get(EDGES, headers=auth).json()[0]["last_error"] == "nginx -t: bad"
        )
        assert (
            client.get(f"{BASE}/editions/__main").json()["publish_status"] == "pending"
        )
        r = client.post(
            f"{EDGES}/{edge}/status",
            headers=auth,
            json={
                "version": changed.json()["version"],
                "applied": changed.json()["seqs"],
            },
        )
        assert r.status_code == 204
        main = client.get(f"{BASE}/editions/__main").json()
        assert main["publish_status"] == "published"

        # An edge that is gone holds no edition back.
        publish(client, BASE, auth, site("two"))
        assert client.get(f"{BASE}/editions/__main").json()["publish_status"] == (
            "pending"
        )
        assert client.delete(f"{EDGES}/{edge}", headers=auth).status_code == 204
        main = client.get(f"{BASE}/editions/__main").json()
        assert main["publish_status"] == "published"
        assert client.get(EDGES, headers=auth).json() == []
        assert client.delete(f"{EDGES}/{edge}", headers=auth).status_code == 404
        r = client.post(
            EDGES,
            headers=auth,
            json={"target": "fastly", "listen": "127.0.0.1:8080", "out": "/srv/x"},
        )
        assert r.status_code == 422
        r = client.post(
            EDGES,
            headers=auth,
            json={"target": "nginx", "listen": "127.0.0.1:8080", "out": "relative"},
        )
        assert r.status_code == 422
