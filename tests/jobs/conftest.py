"""A keeper whose jobs run in its own runner, and ways to look at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keeper.app import create_app
from keeper.cli import main
from keeper.config import get_settings
from keeper.db import Job
from keeper.jobs.runner import JobRunner
from keeper.services.runtime import Runtime
from tests.conftest import BOOTSTRAP, Keeper, make_settings
from tests.publishing import create_lsst_pipelines
from tests.settled import SettledClient


@pytest.fixture
def k(database_url: str, tmp_path: Path) -> Iterator[Keeper]:
    settings = make_settings(database_url, f"file://{tmp_path / 'storage'}", tmp_path)
    # Failing jobs come back fast, and give up after two attempts.
    settings.job_attempts = 2
    settings.job_backoff_seconds = 0.01
    settings.job_backoff_max_seconds = 0.01
    with SettledClient(create_app(settings)) as client:
        create_lsst_pipelines(client, {"Authorization": "Bearer " + BOOTSTRAP})
        yield Keeper(client, settings)


def engine(k: Keeper) -> Engine:
    found: Engine = k.client.app.state.engine  # type: ignore[attr-defined]
    return found


def runtime(k: Keeper) -> Runtime:
    found: Runtime = k.client.app.state.runtime  # type: ignore[attr-defined]
    return found


def runner(k: Keeper) -> JobRunner:
    found: JobRunner = k.client.app.state.jobs  # type: ignore[attr-defined]
    return found


def all_jobs(k: Keeper) -> list[Job]:
    with Session(engine(k)) as session:
        return list(session.exec(select(Job).order_by(Job.id)))  # type: ignore[arg-type]


def keeper_cli(k: Keeper, *args: str) -> Result:
    """Run the ``keeper`` command on the same database and store."""
    env = {
        "KEEPER_DATABASE_URL": k.settings.database_url,
        "KEEPER_STORAGE_URL": k.settings.storage_url,
        "KEEPER_SECRET_KEY_FILE": str(k.settings.secret_key_file),
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, list(args), env=env)
    finally:
        get_settings.cache_clear()
