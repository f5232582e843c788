"""The ``manual`` tracking mode: the edition only moves when a person moves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keeper.tracking.base import BuildFacts, TrackingMode


class ManualMode(TrackingMode):
    name = "manual"

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def claims(self, params: Mapping[str, Any], build: BuildFacts) -> bool:
        return False

    def should_update(
        self,
        params: Mapping[str, Any],
        candidate: BuildFacts,
        current: BuildFacts | None,
    ) -> bool:
        return False
