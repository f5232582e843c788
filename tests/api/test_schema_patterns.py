"""Patterns the OpenAPI document gives for fields that keeper checks in
code: every value a client builds from the pattern must be accepted.

Clients (and schemathesis) generate values from the document, so a
pattern wider than the check turns a valid-looking request into a 422.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.services.errors import Invalid
from keeper.services.store_urls import STORAGE_URL_PATTERN, check_storage_url


@settings(max_examples=200, deadline=None)
@given(url=st.from_regex(STORAGE_URL_PATTERN, fullmatch=True))
def test_every_documented_storage_url_is_accepted(url: str) -> None:
    assert check_storage_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://bucket/x",
        "file://relative/path",
        "file:///",
        "s3://bucket?colour=red",
        "s3://bucket?endpoint_url=ftp://x",
        "/srv/docs",
    ],
)
def test_storage_urls_the_check_refuses_do_not_match(url: str) -> None:
    with pytest.raises(Invalid):
        check_storage_url(url)
    assert re.fullmatch(STORAGE_URL_PATTERN, url) is None
