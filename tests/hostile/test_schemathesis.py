"""schemathesis against keeper's own OpenAPI document, as every kind of
caller: every check it has, no 5xx, no answer the document does not
describe.

Each test starts a real `keeper serve` (SQLite or PostgreSQL, a folder
store), gives it a world to act on (two orgs, a product with a published
build, a token of every role), and runs ``schemathesis run`` with one
caller's token. What the document cannot express (see
``schemathesis.toml``) is listed there, with the reason, operation by
operation; everything else it promises is checked.

``KEEPER_SCHEMATHESIS_EXAMPLES`` (default 12) bounds the examples per
operation and phase, which bounds the run; the seed is fixed so that a
failure can be replayed, and changes with ``KEEPER_SCHEMATHESIS_SEED``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.publishing import publish, site
from tests.served import ServedKeeper, served_keeper

CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).parents[2]
EXAMPLES = os.environ.get("KEEPER_SCHEMATHESIS_EXAMPLES", "12")
SEED = os.environ.get("KEEPER_SCHEMATHESIS_SEED", "20261206")
ORG, OTHER, PRODUCT = "acme", "other", "docs"

CALLERS = (
    "anonymous",
    "reader",
    "uploader",
    "admin",
    "admin of another org",
    "superadmin",
)


@pytest.fixture
def world(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[ServedKeeper, dict[str, str]]]:
    env = {"KEEPER_DATABASE_URL": database_url, "KEEPER_COMPAT_ORG": ORG}
    with served_keeper(tmp_path / "keeper", env) as keeper:
        client, auth = keeper.client, keeper.auth()

        def post(url: str, body: dict[str, object]) -> dict[str, object]:
            response = client.post(url, json=body, headers=auth)
            assert response.status_code == 201, response.text
            created: dict[str, object] = response.json()
            return created

        post("/api/orgs", {"slug": ORG, "title": "Acme", "base_domain": "acme.test"})
        post(
            "/api/orgs", {"slug": OTHER, "title": "Other", "base_domain": "other.test"}
        )
        post(f"/api/orgs/{ORG}/products", {"slug": PRODUCT, "title": "Docs"})
        product = f"/api/orgs/{ORG}/products/{PRODUCT}"
        publish(client, product, auth, site("main"))
        tokens = {"superadmin": keeper.token}
        for role in ("reader", "uploader", "admin"):
            tokens[role] = str(post(f"/api/orgs/{ORG}/tokens", {"role": role})["token"])
        tokens["admin of another org"] = str(
            post(f"/api/orgs/{OTHER}/tokens", {"role": "admin"})["token"]
        )
        yield keeper, tokens


@pytest.mark.parametrize("caller", CALLERS)
def test_keeper_keeps_every_promise_of_its_schema(
    world: tuple[ServedKeeper, dict[str, str]], caller: str, tmp_path: Path
) -> None:
    keeper, tokens = world
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{keeper.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    if caller != "anonymous":
        command += ["--header", f"Authorization: Bearer {tokens[caller]}"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=tmp_path,
        # The hooks module is imported from the project's root.
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
    )
    report = result.stdout[-60_000:] + result.stderr[-5_000:]
    # Unhandled errors, which uvicorn logs with their traceback.
    crashes = keeper.log().split("Exception in ASGI application")[1:]
    assert result.returncode == 0 and not crashes, (
        f"schemathesis as {caller}:\n{report}\n"
        f"keeper's unhandled errors:\n{''.join(crashes)[-20_000:]}"
    )
