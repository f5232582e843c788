"""A token revoked (or expired) through one keeper process is refused by
another on the same database from its very next request: two real
`keeper serve` processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from keeper.db import Token
from keeper.db.engine import make_engine
from tests.compat import ltd1
from tests.conftest import BOOTSTRAP
from tests.served import served_keeper

AUTH = {"Authorization": f"Bearer {BOOTSTRAP}"}
ORG = "/api/orgs/lsst"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_token(client: httpx.Client, role: str, **fields: str) -> dict[str, str]:
    response = client.post(
        f"{ORG}/tokens", headers=AUTH, json={"role": role, "name": role, **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def register(client: httpx.Client, who: str) -> int:
    """Register a build over the LTD Keeper 1.x route, as ltd-conveyor 0.8."""
    return client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(who),
        json={"git_refs": ["main"], "directories": ["/"]},
    ).status_code


def test_revocation_reaches_every_process_at_once(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        "KEEPER_DATABASE_URL": database_url,
        "KEEPER_STORAGE_URL": f"file://{tmp_path / 'storage'}",
        # Sessions from /token are sealed with it: one process opens, the
        # other checks.
        "KEEPER_SECRET_KEY": "shared-secret",
    }
    with (
        served_keeper(tmp_path / "one", env) as one_keeper,
        served_keeper(tmp_path / "two", env) as two_keeper,
    ):
        one, two = one_keeper.client, two_keeper.client
        created = one.post(
            "/api/orgs",
            headers=AUTH,
            json={"slug": "lsst", "title": "LSST", "base_domain": "lsst.test"},
        )
        assert created.status_code == 201, created.text
        product = one.post(
            f"{ORG}/products",
            headers=AUTH,
            json={"slug": "pipelines", "title": "Pipelines"},
        )
        assert product.status_code == 201, product.text
        admin = new_token(one, "admin")
        uploader = new_token(one, "uploader")
        expiring = new_token(
            one, "uploader", expires=(datetime.now(UTC) + timedelta(days=1)).isoformat()
        )

        # Each works on the other process, on the API and the 1.x routes.
        renamed = two.patch(ORG, headers=bearer(admin["token"]), json={"title": "A"})
        assert renamed.status_code == 200, renamed.text
        session = ltd1.get_token(two, uploader["token"])
        assert register(two, uploader["token"]) == 201
        assert register(two, session) == 201
        expiring_session = ltd1.get_token(one, expiring["token"])
        assert register(two, expiring_session) == 201

        for token in (admin, uploader):
            revoked = one.delete(f"{ORG}/tokens/{token['id']}", headers=AUTH)
            assert revoked.status_code == 204, revoked.text
        # Time passes for the third: its expiry moves into the past.
        engine = make_engine(database_url)
        with engine.begin() as connection:
            connection.execute(
                update(Token)
                .where(Token.id == int(expiring["id"]))  # type: ignore[arg-type]
                .values(expires=datetime.now(UTC) - timedelta(seconds=1))
            )
        engine.dispose()

        # No waiting: the other process refuses them on the next request.
        refused = two.patch(ORG, headers=bearer(admin["token"]), json={"title": "B"})
        assert refused.status_code == 401, refused.text
        for ended in (uploader["token"], expiring["token"]):
            assert two.get("/token", headers=ltd1.basic("ci", ended)).status_code == 401
            assert register(two, ended) == 401
        for ended_session in (session, expiring_session):
            assert register(two, ended_session) == 401
        listed = two.get(f"{ORG}/tokens", headers=AUTH).json()
        assert [t["name"] for t in listed] == ["uploader"]  # the expired one
        assert two.get(ORG).json()["title"] == "A"
