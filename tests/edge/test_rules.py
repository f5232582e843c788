"""The pure rules every edge follows before it looks for a file: which Host
headers and request targets it refuses, and how. (What a request is then
answered with is the table of ``tests/edge/cases.py``.)"""

from __future__ import annotations

import re

import pytest

from keeper.domain.limits import MAX_EDGE_TARGET_BYTES, MAX_PATH_BYTES
from keeper.edge import rules
from keeper.edge.rules import host_problem, is_bad_raw_path, is_host, target_problem


@pytest.mark.parametrize(
    "host",
    [
        "demo.docs.test",
        "DEMO.Docs.TEST",
        "demo.docs.test.",
        "demo.docs.test:8080",
        "demo.docs.test:",
        "demo_x.docs.test",
        "127.0.0.1:8000",
        "[::1]:8000",
        "[2001:db8::1]",
        "localhost",
        "a" * 63 + ".test",
        ".".join(["a" * 50] * 5)[:253] + ".",  # 253 bytes and the trailing dot
    ],
)
def test_host_names(host: str) -> None:
    assert is_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "demo.docs.test..",
        ".demo.docs.test",
        "demo..docs.test",
        "demo.docs.test:80x",
        "demo.docs.test:123456",
        "demo docs.test",
        "x@demo.docs.test",
        "demo%2Edocs.test",
        "demo.docs.test%00",
        "demo.docs.test\x00",
        "demo.docs.test\x01",
        "demo.docs.test/x",
        "demo.docs.test\\",
        "a" * 64 + ".test",
        "a." * 2500 + "test",
        ".".join(["a" * 50] * 5) + "a",
        "[::1",
        "[::1]x",
        "caf\xe9.test",
    ],
)
def test_not_host_names(host: str) -> None:
    assert not is_host(host)


def test_host_headers() -> None:
    assert host_problem(["demo.docs.test"], "1.1") is None
    assert host_problem([], "1.0") is None  # no site: the API's
    for hosts, version in (
        ([], "1.1"),
        (["a.test", "b.test"], "1.1"),
        (["a.test", "a.test"], "1.0"),
        (["x@a.test"], "1.1"),
        ([""], "1.1"),
    ):
        problem = host_problem(hosts, version)
        assert problem is not None and problem.status == 400, (hosts, version)


def test_request_targets() -> None:
    assert target_problem("/") is None
    assert target_problem("/" + "a" * (MAX_EDGE_TARGET_BYTES - 1)) is None
    for target in ("*", "demo.docs.test:443", "", "http://x/"):
        problem = target_problem(target)
        assert problem is not None and problem.status == 400, target
    long = target_problem("/" + "a" * MAX_EDGE_TARGET_BYTES)
    assert long is not None and long.status == 414
    # Bytes as sent, one character each.
    assert target_problem("/" + "\xc3\xa9" * (MAX_EDGE_TARGET_BYTES // 2)) is not None


@pytest.mark.parametrize(
    "target",
    [
        "/page%zz.html",
        "/page%.html",
        "/page.html%2",
        "/caf\xc3\xa9.html",
        "/a b",
        "/a\tb",
        "/x?q=caf\xc3\xa9",
        "/x?q=a b",
        "/x?q=\x7f",
    ],
)
def test_bad_raw_targets(target: str) -> None:
    assert is_bad_raw_path(target)


@pytest.mark.parametrize(
    "target",
    [
        "/a%20b.html",
        "/%25.html",
        "/caf%C3%A9.html",
        "/x?q=%zz",  # the query is the page's business
        '/x?q="<>{}|^`',
        "/page.html;x",
        "/%252e%252e/",
    ],
)
def test_raw_targets_that_are_fine(target: str) -> None:
    assert not is_bad_raw_path(target)


def test_the_length_expressions_count_bytes() -> None:
    too_long = re.compile(rules.TARGET_TOO_LONG)
    assert not too_long.match("a" * MAX_EDGE_TARGET_BYTES)
    assert too_long.match("a" * (MAX_EDGE_TARGET_BYTES + 1))
    path = re.compile(rules.PATH_TOO_LONG.encode())
    assert not path.match(("é" * (MAX_PATH_BYTES // 2)).encode())
    assert path.match(("é" * (MAX_PATH_BYTES // 2) + "x").encode())


@pytest.mark.parametrize(
    ("text", "utf8"),
    [
        (b"abc/d.html", True),
        ("café/naïve/€/𝄞".encode(), True),
        (b"a" * 100_000, True),
        ("é".encode() * 50_000, True),
        (b"\xff", False),
        (b"\xc0\xae", False),  # an overlong "."
        (b"\xe0\x80\xae", False),  # another
        (b"\xed\xa0\x80", False),  # a surrogate
        (b"caf\xc3", False),
    ],
)
def test_utf8_expression(text: bytes, utf8: bool) -> None:
    pattern = re.compile(rules.UTF8_PATH.encode("latin-1"))
    assert bool(pattern.match(text)) is utf8
