"""``ltd tokens``: API tokens for an organization's CI jobs and admins."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from conveyor.client import KeeperClient
from ltd.admin.common import Api, api_command, org_option
from ltd.admin.output import emit_json, note


@click.group()
def tokens() -> None:
    """API tokens scoped to one organization."""


@tokens.command()
@org_option
@click.option(
    "--role",
    type=click.Choice(["reader", "uploader", "admin"]),
    default="uploader",
    show_default=True,
    help="uploader for CI jobs that publish; admin to manage the org.",
)
@click.option("--name", default="", help="Who or what holds it, e.g. github-ci.")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="When it stops working (UTC); default: never.",
)
@api_command
def create(api: Api, org: str, role: str, name: str, expires: datetime | None) -> None:
    """Create a token and print it; keeper shows it only this once.

    Only the token goes to stdout, so TOKEN=$(ltd tokens create …) captures
    exactly the secret.
    """
    body: dict[str, object] = {"role": role, "name": name}
    if expires is not None:
        # Keeper wants an aware time; what people type is meant as UTC.
        body["expires"] = expires.replace(tzinfo=UTC).isoformat()
    with api.client() as client:
        created = client.post(f"{KeeperClient.org_path(org)}/tokens", body)
    if api.as_json:
        emit_json(created)
        return
    click.echo(created["token"])
    note(f"{role} token for {org}: store it now, it cannot be shown again")
