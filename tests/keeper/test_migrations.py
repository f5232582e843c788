"""The Alembic migrations build exactly the schema the tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import keeper.db  # noqa: F401
from keeper.db.engine import make_engine
from keeper.db.migrate import current_revision, upgrade


def test_migrations_match_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # a second run at start-up is a no-op
    assert current_revision(engine) == "0001"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []
