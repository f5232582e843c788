"""The ``keeper`` command: run the service and administer its database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from sqlmodel import Session

from keeper import __version__
from keeper.config import get_settings
from keeper.db import Role
from keeper.db.engine import make_engine
from keeper.db.migrate import current_revision, upgrade
from keeper.services.auth import create_token
from keeper.services.errors import KeeperError
from keeper.services.lookup import get_org


@click.group()
@click.version_option(__version__, prog_name="keeper")
def main() -> None:
    """Keeper tracks documentation builds and re-points editions."""


@main.command()
@click.option("--host", default="127.0.0.1", envvar="KEEPER_HOST", show_default=True)
@click.option("--port", default=8000, type=int, envvar="KEEPER_PORT", show_default=True)
@click.option("--workers", default=1, type=int, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API (the schema is created or migrated first)."""
    import uvicorn

    uvicorn.run(
        "keeper.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--org", "org_slug", help="The organization the token acts in.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="A label to recognise the token by.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def token_create(
    org_slug: str | None, role: str, name: str, expires_in_days: int | None
) -> None:
    """Create a token and print it (it is shown only this once)."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    expires = (
        datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    )
    with Session(engine) as session:
        try:
            org = get_org(session, org_slug) if org_slug else None
            _, secret = create_token(
                session, role=Role(role), org=org, name=name, expires=expires
            )
        except KeeperError as exc:
            raise click.ClickException(exc.msg) from exc
        session.commit()
    click.echo(secret)
