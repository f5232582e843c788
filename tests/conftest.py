"""Fixtures shared by every test package: servers, databases, keeper apps."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from keeper.app import create_app
from keeper.config import Settings
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from tests.servers import S3Endpoint, moto_s3_server, rclone_s3_server, skip_or_fail
from tests.settled import SettledClient

if TYPE_CHECKING:
    from tests.served import ServedKeeper

PG_URL = os.environ.get(
    "KEEPER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BOOTSTRAP = "test-superadmin-token"
REDIS_URL = os.environ.get("KEEPER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Endpoint]:
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    with rclone_s3_server(tmp_path_factory.mktemp("rclone-s3")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis (the job queue of `keeper worker`); each test
    names a queue of its own in it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_database(worker_id: str) -> Iterator[str]:
    """A PostgreSQL database of this test session's own, dropped at the end."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        skip_or_fail(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    name = f"keeper_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        # A test that leaked an open transaction would make TRUNCATE wait
        # forever; fail loudly instead.
        conn.execute(text("SET lock_timeout = '10s'"))
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keeper.sqlite3'}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated database (SQLite, then PostgreSQL)."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@dataclass
class Keeper:
    """A keeper app under test and the superadmin token that runs it."""

    client: TestClient
    settings: Settings

    def auth(self, token: str = BOOTSTRAP) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def make_settings(database_url: str, storage_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        storage_url=storage_url,
        base_url="http://testserver",
        bootstrap_token=BOOTSTRAP,  # type: ignore[arg-type]
        secret_key_file=tmp_path / "secret-key",
    )


@pytest.fixture
def keeper(database_url: str, tmp_path: Path) -> Iterator[Keeper]:
    settings = make_settings(database_url, f"file://{tmp_path / 'storage'}", tmp_path)
    with SettledClient(create_app(settings)) as client:
        yield Keeper(client, settings)


@pytest.fixture(scope="module")
def keeper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedKeeper]:
    """One `keeper serve` (SQLite, filesystem store) shared by a test module;
    tests keep out of each other's way by using their own org slugs."""
    from tests.served import served_keeper  # it imports this module

    with served_keeper(tmp_path_factory.mktemp("keeper-served")) as served:
        yield served
