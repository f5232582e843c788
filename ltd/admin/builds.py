"""``ltd builds``: the uploaded, immutable HTML trees of a product.

Builds are created by ``ltd upload``, so there is no ``create`` here; the
one change a build accepts is confirmation, which ``confirm`` repeats (after
resending files that failed verification, say).
"""

from __future__ import annotations

from itertools import islice

import click

from conveyor.client import KeeperClient
from conveyor.upload import wait_for_build
from ltd.admin.common import (
    Api,
    api_command,
    confirm,
    org_option,
    product_option,
    yes_option,
)
from ltd.admin.output import Column, emit_list, emit_record, note, size, when
from ltd.waiting import timeout_option

COLUMNS = [
    Column("id", "id"),
    Column("git_ref", "git ref"),
    Column("status", "status"),
    Column("file_count", "files"),
    Column("total_size", "size", size),
    Column("uploader", "uploader"),
    Column("created", "created", when),
]
STATUSES = click.Choice(["pending", "processing", "complete", "failed"])


@click.group()
def builds() -> None:
    """Uploaded sites (made by `ltd upload`)."""


@builds.command("list")
@click.option("--git-ref", help="Only builds of this branch or tag.")
@click.option("--status", type=STATUSES, help="Only builds in this state.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Newest builds shown; 0 for all.",
)
@org_option
@product_option
@api_command
def list_(
    api: Api,
    git_ref: str | None,
    status: str | None,
    limit: int,
    org: str,
    product: str,
) -> None:
    """List the product's builds, newest first."""
    query = {"git_ref": git_ref, "status": status}
    path = f"{KeeperClient.product_path(org, product)}/builds"
    page = min(limit, 100) if limit else 100
    with api.client() as client:
        found = client.list_all(
            path, limit=page, **{k: v for k, v in query.items() if v is not None}
        )
        rows = list(islice(found, limit) if limit else found)
    emit_list(rows, COLUMNS, as_json=api.as_json)


@builds.command()
@click.argument("build_id", metavar="ID")
@org_option
@product_option
@api_command
def show(api: Api, build_id: str, org: str, product: str) -> None:
    """Show one build, with the CI run that made it."""
    with api.client() as client:
        build = client.get(KeeperClient.build_path(org, product, build_id))
    emit_record(build, as_json=api.as_json, renderers={"total_size": size})


@builds.command("confirm")
@click.argument("build_id", metavar="ID")
@org_option
@product_option
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until keeper has verified the build (complete or failed).",
)
@timeout_option("Seconds to wait.")
@api_command
def confirm_(
    api: Api, build_id: str, org: str, product: str, wait: bool, timeout: float
) -> None:
    """Ask keeper to verify an uploaded build (again) and publish it."""
    path = KeeperClient.build_path(org, product, build_id)
    with api.client() as client:
        build = client.patch(path, {"status": "uploaded"})
        if wait:
            build = wait_for_build(client, path, build, timeout)
    note(f"build {build_id} is {build.get('status')}")
    emit_record(build, as_json=api.as_json, renderers={"total_size": size})
    if build.get("status") == "failed":
        raise click.ClickException(f"build {build_id} failed: {build.get('error')}")


@builds.command()
@click.argument("build_id", metavar="ID")
@org_option
@product_option
@yes_option
@api_command
def delete(api: Api, build_id: str, org: str, product: str, yes: bool) -> None:
    """Delete a build and its files (refused while an edition shows it)."""
    confirm(f"Delete build {build_id} of {org}/{product} and its files?", yes)
    with api.client() as client:
        client.delete(KeeperClient.build_path(org, product, build_id))
    note(f"deleted build {build_id}")
