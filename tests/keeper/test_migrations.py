"""The Alembic migrations build exactly the schema the tables describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import keeper.db  # noqa: F401
from keeper.db.engine import make_engine
from keeper.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)


def test_migrations_match_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # a second run at start-up is a no-op
    assert current_revision(engine) == head_revision() == "0007"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_a_database_at_the_first_revision_upgrades(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    # The PostgreSQL database is shared by a worker's tests: step it back.
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert current_revision(engine) == "0001"
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
