"""Names and scopes for editions that are created automatically."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from keeper.tracking.versions import parse_semver

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_TICKET_PREFIX = "tickets/"
#: Edition slugs hold 100 characters; a draft's slug leaves room for the
#: "-N" that tells apart drafts whose refs clean to the same slug.
MAX_DRAFT_SLUG = 90


def _clean(text: str) -> str:
    text = _UNSAFE.sub("-", text.replace("/", "-"))
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\.{2,}", ".", text)
    # Leading "_" is stripped as well: "__"-prefixed slugs are reserved for
    # system editions such as "__main".
    return text.lstrip("-._").rstrip("-.")


def draft_slug(git_ref: str, alternate_name: str | None = None) -> str:
    """URL-safe edition slug for a branch or tag that no edition tracks yet."""
    ref = git_ref
    if ref.startswith(_TICKET_PREFIX) and len(ref) > len(_TICKET_PREFIX):
        # LSST convention: ticket branches are known by the ticket id alone.
        ref = ref[len(_TICKET_PREFIX) :]
    slug = _clean(ref)
    if not slug:
        # Refs made only of unsafe characters still need a stable, distinct
        # slug, so derive one from the ref itself.
        digest = hashlib.sha256(git_ref.encode()).hexdigest()[:10]
        slug = f"ref-{digest}"
    if alternate_name:
        prefix = _clean(alternate_name)
        if prefix:
            slug = f"{prefix}-{slug}"
    if len(slug) > MAX_DRAFT_SLUG:
        # Git refs run to 255 characters: keep the start people recognise,
        # and a digest of the whole so that long refs stay distinct.
        whole = f"{alternate_name or ''}\0{git_ref}".encode()
        digest = hashlib.sha256(whole).hexdigest()[:10]
        slug = f"{slug[: MAX_DRAFT_SLUG - 11].rstrip('-.')}-{digest}"
    return slug


def version_editions_for(git_ref: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(slug, tracking_mode, tracking_params)`` of the editions a stable
    semver tag implies: ``v2.3.1`` -> editions ``2`` and ``2.3``."""
    version = parse_semver(git_ref)
    if version is None:
        return []
    major, minor = version.major, version.minor
    return [
        (str(major), "semver_major", {"major": major}),
        (f"{major}.{minor}", "semver_minor", {"major": major, "minor": minor}),
    ]
