"""``ltd tokens``: API tokens for an organization's CI jobs and admins."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from conveyor.client import KeeperClient
from ltd.admin.common import Api, api_command, confirm, org_option, yes_option
from ltd.admin.output import Column, emit_json, emit_list, note, when

COLUMNS = [
    Column("id", "id"),
    Column("name", "name"),
    Column("role", "role"),
    Column("hint", "starts with"),
    Column("created", "created", when),
    Column("last_used", "last used", when),
    Column("expires", "expires", when),
]


@click.group()
def tokens() -> None:
    """API tokens scoped to one organization."""


@tokens.command("list")
@org_option
@api_command
def list_(api: Api, org: str) -> None:
    """List the organization's tokens (needs an admin token).

    Secrets are never shown: "starts with" is enough to tell which token a
    CI variable holds, and "last used" which ones are still in use.
    """
    with api.client() as client:
        rows = list(client.list_all(f"{KeeperClient.org_path(org)}/tokens", limit=100))
    emit_list(rows, COLUMNS, as_json=api.as_json)


@tokens.command()
@org_option
@click.option(
    "--role",
    type=click.Choice(["reader", "uploader", "admin", "edge"]),
    default="uploader",
    show_default=True,
    help="uploader for CI jobs that publish; admin to manage the org; edge "
    "for a `keeper edge agent`.",
)
@click.option("--name", default="", help="Who or what holds it, e.g. github-ci.")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="When it stops working (UTC, in the next ten years); default: never.",
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
    note(
        f"{role} token {created['id']} for {org}: store it now, "
        "it cannot be shown again"
    )


@tokens.command()
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
@org_option
@yes_option
@api_command
def revoke(api: Api, token_id: int, org: str, yes: bool) -> None:
    """Revoke a token (its ID is in `ltd tokens list`).

    Keeper refuses it from the next request on, on every keeper process,
    and ends the LTD Keeper 1.x sessions opened with it. Builds it uploaded
    stay as they are.
    """
    confirm(f"Revoke token {token_id} of {org}? Whatever uses it stops working.", yes)
    with api.client() as client:
        client.delete(f"{KeeperClient.org_path(org)}/tokens/{token_id}")
    note(f"revoked token {token_id}")
