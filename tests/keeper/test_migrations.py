"""The Alembic migrations build exactly the schema the tables describe."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
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
    assert current_revision(engine) == head_revision() == "0011"
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


def _at_0005_with_orgs(database_url: str, domains: dict[str, str]) -> Engine:
    engine = make_engine(database_url)
    upgrade(engine)
    # The PostgreSQL database is shared by a worker's tests: step it back.
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    with engine.begin() as connection:
        for slug, domain in domains.items():
            connection.execute(
                text(
                    "INSERT INTO organization (slug, title, base_domain, "
                    "site_scheme, url_layout, cdn_kind, cdn_settings, created, "
                    "updated) VALUES (:slug, :slug, :domain, 'https', 'subdomain', "
                    "'none', '{}', :now, :now)"
                ),
                {"slug": slug, "domain": domain, "now": datetime(2024, 1, 1)},
            )
    return engine


def _domains(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT slug, base_domain FROM organization"))
        return {slug: domain for slug, domain in rows}


def test_0006_stores_base_domains_as_the_edge_compares_them(
    database_url: str,
) -> None:
    engine = _at_0005_with_orgs(
        database_url,
        {"a": "Docs.Test.", "b": " other.test", "c": "", "d": "", "e": "x:80"},
    )
    upgrade(engine)
    assert _domains(engine) == {
        "a": "docs.test",
        "b": "other.test",
        "c": "",
        "d": "",  # any number of orgs without sites
        "e": "x:80",  # not a host name, but nothing to guess: left alone
    }
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("UPDATE organization SET base_domain = 'docs.test' WHERE slug = 'b'")
        )
    engine.dispose()


def test_0006_stops_on_shared_domains_and_changes_nothing(database_url: str) -> None:
    engine = _at_0005_with_orgs(
        database_url, {"first": "docs.test", "second": "DOCS.test.", "z": "Z.test"}
    )
    with pytest.raises(RuntimeError, match=r"docs\.test: first, second"):
        upgrade(engine)
    assert current_revision(engine) == "0005"
    assert _domains(engine) == {
        "first": "docs.test",
        "second": "DOCS.test.",
        "z": "Z.test",
    }
    # The operator keeps the domain on one org; the upgrade then goes through.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE organization SET base_domain = '' WHERE slug = 'second'")
        )
    upgrade(engine)
    assert _domains(engine) == {"first": "docs.test", "second": "", "z": "z.test"}
    engine.dispose()
