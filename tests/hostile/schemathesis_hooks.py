"""Hooks for the schemathesis run (``hooks`` in ``schemathesis.toml``).

A generated request that would point an org at a store keeper could use
is sent with ``storage_url`` null instead: it would make a real folder on
the test machine, or send keeper after an S3 endpoint that is not there,
after which every storage operation of that org would rightly answer 502.
What ``storage_url`` takes is tested on its own
(tests/api/test_org_domains.py, tests/api/test_schema_patterns.py); values
the schema refuses are still sent as generated, and must be refused.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis

from keeper.services.store_urls import STORAGE_URL_PATTERN

_MAX_LENGTH = 1000


def _usable(url: object) -> bool:
    return (
        isinstance(url, str)
        and len(url) <= _MAX_LENGTH
        and re.fullmatch(STORAGE_URL_PATTERN, url) is not None
    )


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    if isinstance(body, dict) and _usable(body.get("storage_url")):
        case.body = {**body, "storage_url": None}
