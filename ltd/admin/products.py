"""``ltd products``: documentation projects within an organization."""

from __future__ import annotations

import click

from conveyor.client import KeeperClient
from ltd.admin.common import (
    Api,
    api_command,
    confirm,
    org_option,
    patch_body,
    yes_option,
)
from ltd.admin.output import Column, emit_list, emit_record, note

COLUMNS = [
    Column("slug", "slug"),
    Column("title", "title"),
    Column("published_url", "url"),
    Column("source_repo_url", "source"),
]


@click.group()
def products() -> None:
    """Documentation projects of an organization."""


@products.command("list")
@org_option
@api_command
def list_(api: Api, org: str) -> None:
    """List the organization's products."""
    with api.client() as client:
        rows = list(
            client.list_all(f"{KeeperClient.org_path(org)}/products", limit=100)
        )
    emit_list(rows, COLUMNS, as_json=api.as_json)


@products.command()
@click.argument("slug")
@org_option
@api_command
def show(api: Api, slug: str, org: str) -> None:
    """Show one product."""
    with api.client() as client:
        product = client.get(KeeperClient.product_path(org, slug))
    emit_record(product, as_json=api.as_json)


@products.command()
@click.option("--slug", required=True, help="URL-safe name, e.g. pipelines.")
@click.option("--title", help="Display name (default: the slug).")
@click.option("--source-repo-url", help="Where the docs' source lives.")
@org_option
@api_command
def create(
    api: Api, slug: str, title: str | None, source_repo_url: str | None, org: str
) -> None:
    """Create a product; keeper gives it the __main edition, tracking main."""
    body = patch_body(
        {"slug": slug, "title": title or slug, "source_repo_url": source_repo_url}
    )
    with api.client() as client:
        created = client.post(f"{KeeperClient.org_path(org)}/products", body)
    note(f"created product {org}/{slug}")
    emit_record(created, as_json=api.as_json)


@products.command()
@click.argument("slug")
@click.option("--title", help="Display name.")
@click.option("--source-repo-url", help="Where the docs' source lives; '' clears it.")
@org_option
@api_command
def update(
    api: Api, slug: str, title: str | None, source_repo_url: str | None, org: str
) -> None:
    """Change a product; options left out stay as they are."""
    body = patch_body({"title": title}, clearable={"source_repo_url": source_repo_url})
    if not body:
        raise click.UsageError("nothing to change: give --title or --source-repo-url")
    with api.client() as client:
        updated = client.patch(KeeperClient.product_path(org, slug), body)
    emit_record(updated, as_json=api.as_json)


@products.command()
@click.argument("slug")
@org_option
@yes_option
@api_command
def delete(api: Api, slug: str, org: str, yes: bool) -> None:
    """Delete a product with all its editions and builds."""
    confirm(f"Delete product {org}/{slug} with all its editions and builds?", yes)
    with api.client() as client:
        client.delete(KeeperClient.product_path(org, slug))
    note(f"deleted product {org}/{slug}")
