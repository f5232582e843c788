"""The ``lsst_doc`` tracking mode for LSST technical notes and documents.

A document is published from its default branch until it gets its first
version tag; from then on the edition shows the highest tagged version and
further branch builds no longer replace it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.version import Version

from keeper.tracking.base import BuildFacts, Rank, RankedMode

_DOC_TAG = re.compile(r"v(\d+)\.(\d+)(?:\.(\d+))?")
#: Repos created before the rename still publish from ``master``.
DEFAULT_BRANCHES = frozenset({"main", "master"})


def parse_doc_version(ref: str) -> Version | None:
    """Return the version of a ``vX.Y`` or ``vX.Y.Z`` tag, else ``None``."""
    match = _DOC_TAG.fullmatch(ref)
    if match is None:
        return None
    return Version(".".join(part for part in match.groups() if part is not None))


class LsstDocMode(RankedMode):
    name = "lsst_doc"

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        # Any tag outranks every branch build, which is what stops a later
        # main build from moving the edition back once a tag is published.
        version = parse_doc_version(build.git_ref)
        if version is not None:
            return (1, version)
        if build.git_ref in DEFAULT_BRANCHES:
            return (0,)
        return None
