"""``ltd orgs``: organizations, the tenants with their own domain and storage."""

from __future__ import annotations

from typing import Any

import click

from conveyor.client import KeeperClient
from ltd.admin.common import (
    Api,
    api_command,
    confirm,
    parse_pairs,
    patch_body,
    yes_option,
)
from ltd.admin.output import Column, emit_list, emit_record, note, when

COLUMNS = [
    Column("slug", "slug"),
    Column("title", "title"),
    Column("base_domain", "base domain"),
    Column("url_layout", "layout"),
    Column("cdn_kind", "cdn"),
    Column("created", "created", when),
]
URL_LAYOUTS = click.Choice(["subdomain", "path"])
SITE_SCHEMES = click.Choice(["https", "http"])
CDN_KINDS = click.Choice(["none", "fastly", "varnish", "nginx"])


@click.group()
def orgs() -> None:
    """Organizations: tenants with their own domain."""


@orgs.command("list")
@api_command
def list_(api: Api) -> None:
    """List every organization."""
    with api.client() as client:
        rows = list(client.list_all("/orgs", limit=100))
    emit_list(rows, COLUMNS, as_json=api.as_json)


@orgs.command()
@click.argument("slug")
@api_command
def show(api: Api, slug: str) -> None:
    """Show one organization."""
    with api.client() as client:
        emit_record(client.get(KeeperClient.org_path(slug)), as_json=api.as_json)


def _settings_options(command: Any) -> Any:
    """The fields create and update share, as in OrgCreate / OrgUpdate."""
    for option in reversed(
        [
            click.option("--title", help="Display name."),
            click.option(
                "--base-domain",
                help="Domain the products live under, e.g. lsst.io; one org's "
                "alone, and set by a superadmin.",
            ),
            click.option(
                "--url-layout",
                type=URL_LAYOUTS,
                help="subdomain (<product>.<domain>) or path (<domain>/<product>); "
                "set by a superadmin.",
            ),
            click.option(
                "--site-scheme",
                type=SITE_SCHEMES,
                help="How readers reach the sites (default https).",
            ),
            click.option(
                "--site-port",
                type=click.IntRange(1, 65535),
                help="The sites' port when it is not the scheme's own.",
            ),
            click.option("--cdn-kind", type=CDN_KINDS, help="Which CDN keeper purges."),
            click.option(
                "--cdn-setting",
                "cdn_settings",
                multiple=True,
                callback=parse_pairs,
                metavar="KEY=VALUE",
                help="CDN setting (repeat; KEY:=JSON for non-strings). "
                "Replaces all CDN settings.",
            ),
        ]
    ):
        command = option(command)
    return command


@orgs.command()
@click.option("--slug", required=True, help="URL-safe name, e.g. lsst.")
@_settings_options
@click.option(
    "--storage-url",
    help="Where this org's builds are stored (superadmin only); "
    "default: keeper's own store.",
)
@api_command
def create(
    api: Api,
    slug: str,
    title: str | None,
    base_domain: str | None,
    url_layout: str | None,
    site_scheme: str | None,
    site_port: int | None,
    cdn_kind: str | None,
    cdn_settings: dict[str, Any] | None,
    storage_url: str | None,
) -> None:
    """Create an organization (needs a superadmin token)."""
    body = patch_body(
        {
            "slug": slug,
            "title": title or slug,
            "base_domain": base_domain,
            "url_layout": url_layout,
            "site_scheme": site_scheme,
            "site_port": site_port,
            "storage_url": storage_url,
            "cdn_kind": cdn_kind,
            "cdn_settings": cdn_settings,
        }
    )
    with api.client() as client:
        created = client.post("/orgs", body)
    note(f"created organization {slug}")
    emit_record(created, as_json=api.as_json)


@orgs.command()
@click.argument("slug")
@_settings_options
@click.option(
    "--storage-url",
    help="Move where new builds are stored (superadmin only); '' for keeper's own.",
)
@api_command
def update(
    api: Api,
    slug: str,
    title: str | None,
    base_domain: str | None,
    url_layout: str | None,
    site_scheme: str | None,
    site_port: int | None,
    cdn_kind: str | None,
    cdn_settings: dict[str, Any] | None,
    storage_url: str | None,
) -> None:
    """Change an organization's settings; options left out stay as they are."""
    body = patch_body(
        {
            "title": title,
            "base_domain": base_domain,
            "url_layout": url_layout,
            "site_scheme": site_scheme,
            "site_port": site_port,
            "cdn_kind": cdn_kind,
            "cdn_settings": cdn_settings,
        },
        clearable={"storage_url": storage_url},
    )
    if not body:
        raise click.UsageError("nothing to change: give at least one option")
    with api.client() as client:
        updated = client.patch(KeeperClient.org_path(slug), body)
    emit_record(updated, as_json=api.as_json)


@orgs.command()
@click.argument("slug")
@yes_option
@api_command
def delete(api: Api, slug: str, yes: bool) -> None:
    """Delete an organization and its tokens (needs a superadmin token).

    Keeper refuses while the organization still has products: deleting
    those, with their builds, is a separate and deliberate step.
    """
    confirm(f"Delete organization {slug} and its tokens?", yes)
    with api.client() as client:
        client.delete(KeeperClient.org_path(slug))
    note(f"deleted organization {slug}")
