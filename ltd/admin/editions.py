"""``ltd editions``: the named URLs (``/v/main/``, ``/v/2.3/``, the root) and
which build each one shows."""

from __future__ import annotations

from typing import Any

import click

from conveyor.client import KeeperClient
from ltd.admin.common import (
    Api,
    api_command,
    confirm,
    org_option,
    parse_pairs,
    patch_body,
    product_option,
    yes_option,
)
from ltd.admin.output import Column, emit_list, emit_record, note, params, when

COLUMNS = [
    Column("slug", "slug"),
    Column("kind", "kind"),
    Column("tracking_mode", "tracking"),
    Column("tracking_params", "params", params),
    Column("build_id", "build"),
    Column("published", "published", when),
    Column("published_url", "url"),
]
HISTORY_COLUMNS = [
    Column("created", "when", when),
    Column("build_id", "build"),
    Column("previous_build_id", "previous"),
    Column("reason", "reason"),
    Column("actor", "by"),
]
KINDS = click.Choice(["main", "release", "major", "minor", "draft", "alternate"])


@click.group()
def editions() -> None:
    """Named URLs, each showing one build."""


def _editions_path(org: str, product: str) -> str:
    return f"{KeeperClient.product_path(org, product)}/editions"


@editions.command("list")
@org_option
@product_option
@api_command
def list_(api: Api, org: str, product: str) -> None:
    """List the product's editions."""
    with api.client() as client:
        rows = list(client.list_all(_editions_path(org, product), limit=100))
    emit_list(rows, COLUMNS, as_json=api.as_json)


@editions.command()
@click.argument("slug")
@org_option
@product_option
@api_command
def show(api: Api, slug: str, org: str, product: str) -> None:
    """Show one edition (__main is the one at the product's root)."""
    with api.client() as client:
        edition = client.get(KeeperClient.edition_path(org, product, slug))
    emit_record(edition, as_json=api.as_json, renderers={"tracking_params": params})


def _fields(command: Any) -> Any:
    """The fields create and update share, as in EditionCreate / Update."""
    for option in reversed(
        [
            click.option("--title", help="Display name."),
            click.option("--kind", type=KINDS, help="What sort of edition it is."),
            click.option(
                "--tracking-mode",
                help="Rule that moves it: git_ref, lsst_doc, semver_release, "
                "semver_major, semver_minor, eups_*, manual, …",
            ),
            click.option(
                "--tracking-param",
                "tracking_params",
                multiple=True,
                callback=parse_pairs,
                metavar="KEY=VALUE",
                help="Parameter of the mode, e.g. major=2 or git_ref=main "
                "(repeat; KEY:=JSON for lists). Replaces all parameters.",
            ),
            click.option("--build", help="Point at this build id now."),
        ]
    ):
        command = option(command)
    return command


@editions.command()
@click.option("--slug", required=True, help="Name in the URL: /v/<slug>/.")
@_fields
@click.option("--hidden", is_flag=True, help="Leave it off dashboards and switchers.")
@org_option
@product_option
@api_command
def create(
    api: Api,
    slug: str,
    title: str | None,
    kind: str | None,
    tracking_mode: str | None,
    tracking_params: dict[str, Any] | None,
    build: str | None,
    hidden: bool,
    org: str,
    product: str,
) -> None:
    """Create an edition; keeper's defaults fill what is left out."""
    body = patch_body(
        {
            "slug": slug,
            "title": title,
            "kind": kind,
            "tracking_mode": tracking_mode,
            "tracking_params": tracking_params,
            "build": build,
            "hidden": hidden or None,
        }
    )
    with api.client() as client:
        created = client.post(_editions_path(org, product), body)
    note(f"created edition {slug} of {org}/{product}")
    emit_record(created, as_json=api.as_json, renderers={"tracking_params": params})


@editions.command()
@click.argument("slug")
@click.option("--slug", "new_slug", help="Rename the edition (its URL changes).")
@_fields
@click.option(
    "--hidden/--visible",
    default=None,
    help="Hide from, or show on, dashboards and switchers.",
)
@org_option
@product_option
@api_command
def update(
    api: Api,
    slug: str,
    new_slug: str | None,
    title: str | None,
    kind: str | None,
    tracking_mode: str | None,
    tracking_params: dict[str, Any] | None,
    build: str | None,
    hidden: bool | None,
    org: str,
    product: str,
) -> None:
    """Change an edition; options left out stay as they are.

    --build re-points it now; its tracking mode still moves it on the next
    matching build (add --tracking-mode manual to pin it there).
    """
    body = patch_body(
        {
            "slug": new_slug,
            "title": title,
            "kind": kind,
            "tracking_mode": tracking_mode,
            "tracking_params": tracking_params,
            "build": build,
            "hidden": hidden,
        }
    )
    if not body:
        raise click.UsageError("nothing to change: give at least one option")
    with api.client() as client:
        updated = client.patch(KeeperClient.edition_path(org, product, slug), body)
    emit_record(updated, as_json=api.as_json, renderers={"tracking_params": params})


@editions.command()
@click.argument("slug")
@click.option("--build", required=True, help="The earlier build to show again.")
@org_option
@product_option
@api_command
def rollback(api: Api, slug: str, build: str, org: str, product: str) -> None:
    """Point an edition back at an earlier build."""
    path = f"{KeeperClient.edition_path(org, product, slug)}/rollback"
    with api.client() as client:
        edition = client.post(path, {"build": build})
    note(f"edition {slug} now shows build {edition.get('build_id')}")
    emit_record(edition, as_json=api.as_json, renderers={"tracking_params": params})


@editions.command()
@click.argument("slug")
@org_option
@product_option
@api_command
def history(api: Api, slug: str, org: str, product: str) -> None:
    """The builds an edition has shown, oldest first, and why it moved."""
    path = f"{KeeperClient.edition_path(org, product, slug)}/history"
    with api.client() as client:
        rows = list(client.list_all(path, limit=100))
    emit_list(rows, HISTORY_COLUMNS, as_json=api.as_json)


@editions.command()
@click.argument("slug")
@org_option
@product_option
@yes_option
@api_command
def delete(api: Api, slug: str, org: str, product: str, yes: bool) -> None:
    """Delete an edition; its builds stay."""
    confirm(f"Delete edition {slug} of {org}/{product}?", yes)
    with api.client() as client:
        client.delete(KeeperClient.edition_path(org, product, slug))
    note(f"deleted edition {slug} of {org}/{product}")
