"""Redirect rules: product-level rules from the API and a build's own
Netlify-style ``_redirects`` file.

A rule is ``from to [status]``:

- ``from`` is a path starting with ``/``; a trailing ``*`` matches any rest
  of the path (the *splat*), ``/docs/*`` also matching ``/docs`` itself.
- ``to`` is a path starting with ``/`` or an absolute ``http(s)://`` URL; a
  ``:splat`` in it takes what the ``*`` matched.
- ``status`` is 301 (the default), 302, 303, 307 or 308. Netlify's ``!``
  (force) suffix is accepted and changes nothing: every edge applies a rule
  before it looks for a file, so a rule always wins.

Paths in a build's ``_redirects`` are relative to where the build is served
(``/v/2.3/old.html`` for an edition, ``/old.html`` for ``__main``); product
rules are relative to the site root. The built-in edge matches rules with
:func:`match`; the nginx and VCL renderers compile the same rules with
:func:`pattern` so that every edge agrees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The file in a build that holds its redirect rules.
REDIRECTS_FILE = "_redirects"
STATUSES = frozenset({301, 302, 303, 307, 308})
#: More rules than this in one file are refused: every edge evaluates them
#: for every request of the build.
MAX_RULES = 1000
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()+,;=:@%/*-]*$")
_SAFE = r"[A-Za-z0-9._~!$&'()+,;=:@%/-]"
#: What :func:`make_rule` takes as ``from`` and as ``to``, as patterns (ECMA
#: and Python regex alike) for the API's schema. One thing they cannot say:
#: ``:splat`` in ``to`` needs a ``*`` in ``from``.
SOURCE_PATTERN = rf"^(?!.*//)(?!(?:.*/)?\.\.(?:/|$))/(?:{_SAFE}*|(?:{_SAFE}*/)?\*)$"
TARGET_PATTERN = (
    rf"^(?!//)(?:/{_SAFE}*|https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/{_SAFE}*)?)$"
)
_SAFE_URL = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~!$&'()+,;=:@%/*-]*)?$"
)


class RedirectError(ValueError):
    """A rule that cannot be used, with the reason."""


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    status: int = 301

    @property
    def splat(self) -> bool:
        return self.source.endswith("*")

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "status": self.status}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        return cls(source=data["from"], target=data["to"], status=int(data["status"]))


def make_rule(source: str, target: str, status: int = 301) -> Rule:
    """A checked rule; raises :class:`RedirectError` saying what is wrong."""
    if status not in STATUSES:
        raise RedirectError(
            f"status {status} is not a redirect; use one of "
            + ", ".join(map(str, sorted(STATUSES)))
        )
    if not _SAFE_PATH.match(source):
        raise RedirectError(
            f"'from' must be a path starting with '/' without spaces or "
            f"quotes: {source!r}"
        )
    if "*" in source[:-1] or (source.endswith("*") and not source.endswith("/*")):
        raise RedirectError(f"'*' may only end a path, after '/': {source!r}")
    if ".." in source.split("/") or "//" in source:
        raise RedirectError(f"'from' may not contain '..' or '//': {source!r}")
    if not (_SAFE_PATH.match(target) or _SAFE_URL.match(target)):
        raise RedirectError(
            f"'to' must be a path starting with '/' or an http(s) URL, without "
            f"spaces or quotes: {target!r}"
        )
    if target.startswith("//"):
        raise RedirectError(f"'to' may not start with '//': {target!r}")
    if "*" in target:
        raise RedirectError(f"'to' takes ':splat', not '*': {target!r}")
    if ":splat" in target and not source.endswith("*"):
        raise RedirectError(f"':splat' in 'to' needs a '*' in 'from': {target!r}")
    return Rule(source=source, target=target, status=status)


def parse_redirects_file(text: str) -> list[Rule]:
    """Rules of a ``_redirects`` file; raises :class:`RedirectError` naming
    the first bad line."""
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        try:
            rules.append(_rule_from_fields(fields))
        except RedirectError as exc:
            raise RedirectError(f"{REDIRECTS_FILE} line {number}: {exc}") from None
    if len(rules) > MAX_RULES:
        raise RedirectError(
            f"{REDIRECTS_FILE} has {len(rules)} rules; at most {MAX_RULES} are served"
        )
    return rules


def _rule_from_fields(fields: list[str]) -> Rule:
    if len(fields) not in (2, 3):
        raise RedirectError("expected 'from to [status]'")
    status = 301
    if len(fields) == 3:
        text = fields[2].removesuffix("!")
        if not text.isdigit():
            raise RedirectError(f"status must be a number, not {fields[2]!r}")
        status = int(text)
    return make_rule(fields[0], fields[1], status)


def match(
    rules: Sequence[Rule], path: str, *, raw: str | None = None
) -> tuple[Rule, str] | None:
    """The first rule matching ``path`` (decoded, starting with ``/``) and
    its target with ``:splat`` filled in.

    The splat is taken from ``raw``, the same path as the client encoded
    it, when given: a ``Location`` then keeps the client's spelling, and a
    decoded ``?``, ``#`` or ``%`` never changes what it points at.
    """
    for rule in rules:
        if rule.splat:
            stem = rule.source[:-2]  # without "/*"
            if path == stem or path.startswith(stem + "/"):
                splat = splat_of(path if raw is None else raw, stem.count("/"))
                return rule, rule.target.replace(":splat", splat)
        elif path == rule.source:
            return rule, rule.target
    return None


def splat_of(path: str, depth: int) -> str:
    """What a splat rule whose stem has ``depth`` segments takes of
    ``path``: everything after those segments and the slash that follows
    them. Percent-decoding keeps every ``/``, so a raw path and its decoded
    form give the same splat, each in its own spelling."""
    return "/".join(path.split("/")[depth + 1 :])


def pattern(rule: Rule) -> str:
    """A regular expression (PCRE and VCL alike) for the path a rule matches.

    A splat rule captures the rest in group 1.
    """
    if rule.splat:
        return "^" + re.escape(rule.source[:-2]) + "(?:/(.*))?$"
    return "^" + re.escape(rule.source) + "$"


def join_target(root: str, target: str) -> str:
    """Where a rule's target points when its paths are relative to ``root``
    (``""`` for the site root, ``/v/2.3`` for an edition)."""
    if target.startswith(("http://", "https://")):
        return target
    return root + target
