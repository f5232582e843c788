"""Options every admin command shares, and parsing of ``KEY=VALUE`` pairs."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from conveyor.client import KeeperClient
from ltd.errors import reports_errors


@dataclass(frozen=True)
class Api:
    """Where keeper is, who we are to it, and how to print its answers."""

    host: str | None
    token: str | None
    as_json: bool

    def client(self) -> KeeperClient:
        # KeeperClient refuses an empty host with a message naming
        # --host and LTD_HOST, the same one `ltd upload` gives.
        return KeeperClient(self.host or "", self.token)


def api_command(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command ``--host``, ``--token`` and ``--json`` as one ``api``
    argument, and turn client errors into their exit codes."""
    checked = reports_errors(command)

    @functools.wraps(checked)
    def wrapper(
        *args: Any, host: str | None, token: str | None, as_json: bool, **kwargs: Any
    ) -> Any:
        return checked(*args, api=Api(host, token, as_json), **kwargs)

    options = [
        click.option(
            "--host",
            envvar="LTD_HOST",
            show_envvar=True,
            help="Keeper's URL, e.g. https://keeper.lsst.io.",
        ),
        click.option(
            "--token",
            envvar="LTD_TOKEN",
            show_envvar=True,
            help="API token; reads work without one.",
        ),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the API's JSON instead of a table.",
        ),
    ]
    decorated: Callable[..., Any] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


org_option = click.option(
    "--org",
    envvar="LTD_ORG",
    show_envvar=True,
    required=True,
    help="Organization slug.",
)
product_option = click.option(
    "--product",
    envvar="LTD_PRODUCT",
    show_envvar=True,
    required=True,
    help="Product slug.",
)
yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation."
)


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying something; ``--yes`` is for scripts. With no
    terminal to answer, click reads end-of-file and aborts, which is the
    safe outcome for a script that forgot ``--yes``."""
    if not yes:
        click.confirm(question, abort=True, err=True)


def parse_pairs(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, Any] | None:
    """``KEY=VALUE`` gives a string and ``KEY:=JSON`` any JSON value (the
    HTTPie convention), so ``major=2`` and ``git_refs:='["main"]'`` both fit
    in one repeatable option. ``None`` when the option was not given, so an
    update leaves the field alone."""
    if not values:
        return None
    pairs: dict[str, Any] = {}
    for item in values:
        key, json_sep, raw = item.partition(":=")
        if json_sep and "=" not in key:
            try:
                pairs[key.strip()] = json.loads(raw)
            except ValueError as exc:
                raise click.BadParameter(
                    f"{item!r}: the value after ':=' must be JSON ({exc})",
                    ctx=ctx,
                    param=param,
                ) from exc
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{item!r} is not KEY=VALUE (or KEY:=JSON)", ctx=ctx, param=param
            )
        pairs[key.strip()] = value
    return pairs


def patch_body(
    fields: Mapping[str, Any], *, clearable: Mapping[str, str | None] | None = None
) -> dict[str, Any]:
    """The body of a PATCH: only the options the user gave. A ``clearable``
    option given as ``''`` sends null, which is how a field such as
    ``source_repo_url`` is removed."""
    body = {key: value for key, value in fields.items() if value is not None}
    for key, value in (clearable or {}).items():
        if value is not None:
            body[key] = value or None
    return body
