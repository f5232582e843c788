"""``ltd`` commands that manage keeper through its REST API."""

from __future__ import annotations

import click

from ltd.admin.builds import builds
from ltd.admin.editions import editions
from ltd.admin.orgs import orgs
from ltd.admin.products import products
from ltd.admin.tokens import tokens
from ltd.github import github


def register(group: click.Group) -> None:
    """Add the admin groups (orgs, products, editions, builds, tokens) and
    ``github`` to the top-level ``ltd`` group."""
    for command in (orgs, products, editions, builds, tokens, github):
        group.add_command(command)


__all__ = ["register"]
