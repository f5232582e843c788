"""Redirect rules: what a _redirects file may say, and what a rule matches."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.edge.redirects import (
    SOURCE_PATTERN,
    TARGET_PATTERN,
    RedirectError,
    Rule,
    join_target,
    make_rule,
    match,
    parse_redirects_file,
    pattern,
    splat_of,
)


def test_a_file_with_comments_statuses_and_splats() -> None:
    rules = parse_redirects_file(
        "# moved\n\n/old.html   /new.html\n/docs/*  /guide/:splat  302!\n"
        "/x https://example.org/y 308\n"
    )
    assert rules == [
        Rule("/old.html", "/new.html", 301),
        Rule("/docs/*", "/guide/:splat", 302),
        Rule("/x", "https://example.org/y", 308),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/a", "expected 'from to [status]'"),
        ("/a /b 200", "status 200 is not a redirect"),
        ("/a /b abc", "status must be a number"),
        ("a /b", "'from' must be a path"),
        ("/a/*/b /c", "'*' may only end a path"),
        ("/a* /c", "'*' may only end a path"),
        ("/a/../b /c", "may not contain '..'"),
        ("/a javascript:alert(1)", "'to' must be a path"),
        ("/a //evil.example/x", "may not start with '//'"),
        ("/a /b/:splat", "needs a '*' in 'from'"),
        ('/a "/b"', "'to' must be a path"),
    ],
)
def test_bad_lines_are_refused_with_their_number(line: str, reason: str) -> None:
    with pytest.raises(RedirectError) as caught:
        parse_redirects_file(f"# fine\n/ok /fine\n{line}\n")
    assert str(caught.value).startswith("_redirects line 3: ")
    assert reason in str(caught.value)


def test_too_many_rules_are_refused() -> None:
    text = "".join(f"/p{i} /q{i}\n" for i in range(1001))
    with pytest.raises(RedirectError, match="at most 1000"):
        parse_redirects_file(text)


def test_the_first_matching_rule_wins_and_fills_the_splat() -> None:
    rules = [make_rule("/docs/old.html", "/a.html"), make_rule("/docs/*", "/g/:splat")]
    assert match(rules, "/docs/old.html") == (rules[0], "/a.html")
    assert match(rules, "/docs/x/y.html") == (rules[1], "/g/x/y.html")
    assert match(rules, "/docs") == (rules[1], "/g/")
    assert match(rules, "/docs/") == (rules[1], "/g/")
    assert match(rules, "/docsx") is None
    assert match(rules, "/other") is None


def test_a_splat_keeps_the_spelling_of_the_raw_path() -> None:
    rule = make_rule("/moved/*", "/g/:splat")
    # The decoded path matches; the target takes the raw path's segments, so
    # a decoded "?" or "%" never changes where the Location points.
    raw = "/mov%65d/a%20b/%3F%25.html"
    assert match([rule], "/moved/a b/?%.html", raw=raw) == (
        rule,
        "/g/a%20b/%3F%25.html",
    )
    assert match([rule], "/moved/a b/?%.html") == (rule, "/g/a b/?%.html")


@pytest.mark.parametrize(
    ("raw", "depth", "splat"),
    [
        ("/docs", 1, ""),
        ("/docs/", 1, ""),
        ("/d%6Fcs/a/b", 1, "a/b"),
        ("/x/y", 0, "x/y"),
        ("/", 0, ""),
        ("/a/b/c/d", 2, "c/d"),
    ],
)
def test_splat_of(raw: str, depth: int, splat: str) -> None:
    assert splat_of(raw, depth) == splat
    # The edges' regular expression takes the same.
    found = re.match(rf"^(?:/[^/]*){{{depth}}}/?(.*)$", raw)
    assert found is not None and found.group(1) == splat


@pytest.mark.parametrize(
    ("source", "path", "group"),
    [
        ("/docs/*", "/docs/a/b", "a/b"),
        ("/docs/*", "/docs", None),
        ("/a.b+c", "/a.b+c", None),
    ],
)
def test_patterns_match_what_match_matches(
    source: str, path: str, group: str | None
) -> None:
    rule = make_rule(source, "/t/:splat" if "*" in source else "/t")
    found = re.match(pattern(rule), path)
    assert found is not None and match([rule], path) is not None
    assert (found.group(1) if rule.splat else None) == group
    assert re.match(pattern(rule), rule.source.removesuffix("/*") + "x") is None


def test_targets_are_relative_to_where_the_build_is_served() -> None:
    assert join_target("/v/2.3", "/new.html") == "/v/2.3/new.html"
    assert join_target("", "/new.html") == "/new.html"
    assert join_target("/v/2.3", "https://example.org/") == "https://example.org/"


# The API documents what make_rule takes as two patterns; clients (and
# schemathesis) generate rules from them, so they must agree with it.


@settings(max_examples=300, deadline=None)
@given(source=st.from_regex(SOURCE_PATTERN, fullmatch=True))
def test_every_documented_source_makes_a_rule(source: str) -> None:
    assert make_rule(source, "/t").source == source


@settings(max_examples=300, deadline=None)
@given(target=st.from_regex(TARGET_PATTERN, fullmatch=True))
def test_every_documented_target_makes_a_rule(target: str) -> None:
    assert make_rule("/a/*", target).target == target


@pytest.mark.parametrize(
    "source", ["/docs*", "//x", "/../x", "/a/..", "/a/*/b", "docs", "/a b", '/a"b']
)
def test_sources_make_rule_refuses_do_not_match_the_pattern(source: str) -> None:
    with pytest.raises(RedirectError):
        make_rule(source, "/t")
    assert re.fullmatch(SOURCE_PATTERN, source) is None
