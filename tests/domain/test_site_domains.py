"""Base domains: what is a host name, and which orgs' sites would collide."""

from __future__ import annotations

import itertools

import pytest

from keeper.domain.site_domains import (
    DomainError,
    SiteDomain,
    api_host,
    collision,
    normalise_base_domain,
    takes_api_host,
)

# -- what a base domain may be -------------------------------------------------

#: 253 characters: the longest host name.
LONGEST = ".".join(["a" * 63] * 3) + "." + "b" * 61
NORMALISED = [
    ("", ""),
    ("   ", ""),
    ("docs.test", "docs.test"),
    ("localhost", "localhost"),  # the quick start's: sites at x.localhost
    ("Docs.Example.ORG", "docs.example.org"),
    ("docs.test.", "docs.test"),  # the same name in DNS
    (" lsst.io ", "lsst.io"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a-b.c0.io", "a-b.c0.io"),
    ("1password.com", "1password.com"),  # digits are fine but in the last part
    ("x" * 63 + ".io", "x" * 63 + ".io"),
    (LONGEST, LONGEST),
]


@pytest.mark.parametrize(("given", "stored"), NORMALISED)
def test_a_host_name_is_stored_normalised(given: str, stored: str) -> None:
    assert normalise_base_domain(given) == stored


REFUSED = [
    ("docs.test:8000", "site_port"),
    ("localhost:8000", "site_port"),
    ("https://docs.test", "scheme"),
    ("docs.test/pipelines", "path"),
    ("127.0.0.1", "IP address"),
    ("10.0.0.1.", "IP address"),
    ("docs.123", "IP address"),
    ("::1", "IP address"),
    ("[::1]", "IP address"),
    ("bücher.example", "xn--"),
    ("ｄｏｃｓ.test", "xn--"),  # full-width letters
    ("*.docs.test", "wildcard"),
    ("docs..test", "not a host name"),
    (".docs.test", "not a host name"),
    ("docs.test..", "not a host name"),
    (".", "not a host name"),
    ("-docs.test", "not a host name"),
    ("docs-.test", "not a host name"),
    ("do_cs.test", "not a host name"),
    ("docs test", "not a host name"),
    ("docs.test\x00", "not a host name"),
    ("x" * 64 + ".io", "not a host name"),
    (".".join(["a" * 63] * 4), "at most 253"),
]


@pytest.mark.parametrize(("given", "reason"), REFUSED)
def test_anything_else_is_refused_with_the_reason(given: str, reason: str) -> None:
    with pytest.raises(DomainError, match=reason.replace("(", r"\(")):
        normalise_base_domain(given)


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1"),
        ("https://Keeper.Example.org/", "keeper.example.org"),
        ("https://keeper.example.org.:443/prefix", "keeper.example.org"),
        ("http://[::1]:8000", "[::1]"),
        ("http://testserver", "testserver"),
    ],
)
def test_keepers_own_host_is_read_as_the_edge_reads_host(
    base_url: str, host: str
) -> None:
    assert api_host(base_url) == host


# -- which hosts an org's sites could take -------------------------------------

SUB = "subdomain"
PATH = "path"

SERVES = [
    # (domain, layout, host, could serve)
    ("docs.test", SUB, "pipelines.docs.test", True),
    ("docs.test", SUB, "docs.test", False),
    ("docs.test", SUB, "a.b.docs.test", False),  # a slug has no dot
    ("docs.test", SUB, "x-.docs.test", False),  # nor a trailing hyphen
    ("docs.test", SUB, "pipelines.other.test", False),
    ("docs.test", PATH, "docs.test", True),
    ("docs.test", PATH, "pipelines.docs.test", False),
    ("localhost", SUB, "example.localhost", True),
    ("localhost", SUB, "localhost", False),
    ("localhost", SUB, "127.0.0.1", False),
    ("", SUB, "docs.test", False),
    ("", PATH, "", False),
]


@pytest.mark.parametrize(("domain", "layout", "host", "serves"), SERVES)
def test_which_hosts_a_layout_serves(
    domain: str, layout: str, host: str, serves: bool
) -> None:
    assert SiteDomain(domain, layout).could_serve(host) is serves


COLLISIONS = [
    # (a, b, collide?)
    (("docs.test", SUB), ("docs.test", SUB), True),
    (("docs.test", PATH), ("docs.test", PATH), True),
    # Disjoint hosts (x.d and d), but a domain belongs to one org.
    (("docs.test", SUB), ("docs.test", PATH), True),
    # The subdomain org's product "lsst" would be the path org's host.
    (("docs.test", SUB), ("lsst.docs.test", PATH), True),
    (("lsst.docs.test", PATH), ("docs.test", SUB), True),
    # Deeper names are never one product of the other.
    (("docs.test", SUB), ("a.lsst.docs.test", PATH), False),
    (("docs.test", SUB), ("lsst.docs.test", SUB), False),
    (("docs.test", PATH), ("lsst.docs.test", PATH), False),
    (("docs.test", PATH), ("lsst.docs.test", SUB), False),
    (("lsst.docs.test", SUB), ("docs.test", PATH), False),
    (("docs.test", SUB), ("other.test", SUB), False),
    (("docs.test", SUB), ("docs.test2", SUB), False),
    (("ocs.test", SUB), ("docs.test", PATH), False),  # a suffix, not a parent
    # No sites, no collision, however many orgs have none.
    (("", SUB), ("", SUB), False),
    (("", PATH), ("docs.test", PATH), False),
]


@pytest.mark.parametrize(("a", "b", "collide"), COLLISIONS)
def test_which_orgs_collide(
    a: tuple[str, str], b: tuple[str, str], collide: bool
) -> None:
    reason = collision(SiteDomain(*a), SiteDomain(*b))
    assert (reason is not None) is collide, reason
    # The rule is symmetric.
    assert (collision(SiteDomain(*b), SiteDomain(*a)) is not None) is collide


def test_collision_is_exactly_a_shared_request_or_a_shared_domain() -> None:
    """Against the definition itself: over a small world of names, two orgs
    collide when some host (hence some path, the path org's /<slug>/ being
    inside the subdomain org's every path) would reach both, or when their
    base domains are equal."""
    domains = ["d.test", "x.d.test", "y.x.d.test", "e.test", "x.e.test", ""]
    hosts = {
        f"{slug}.{d}" if slug else d
        for d in domains
        for slug in ("", "x", "y", "z")
        if d or not slug
    }
    orgs = [SiteDomain(d, layout) for d in domains for layout in (SUB, PATH)]
    for a, b in itertools.product(orgs, repeat=2):
        shared = any(a.could_serve(h) and b.could_serve(h) for h in hosts)
        expected = shared or (a.domain != "" and a.domain == b.domain)
        assert (collision(a, b) is not None) is expected, (a, b)


KEEPER_HOST = [
    # (domain, layout, keeper's host, taken?)
    ("localhost", SUB, "127.0.0.1", False),  # the quick start
    ("docs.test", SUB, "testserver", False),
    ("lsst.io", SUB, "keeper.lsst.codes", False),
    ("lsst.io", SUB, "keeper.lsst.io", True),  # product "keeper" = the API
    ("lsst.io", PATH, "lsst.io", True),  # product "api" = /api
    ("lsst.io", SUB, "lsst.io", False),  # sites at x.lsst.io, API at lsst.io
    ("keeper.lsst.io", SUB, "keeper.lsst.io", False),
    ("lsst.io", PATH, "keeper.lsst.io", False),
    ("", PATH, "keeper.lsst.io", False),
]


@pytest.mark.parametrize(("domain", "layout", "host", "taken"), KEEPER_HOST)
def test_which_orgs_would_take_keepers_own_host(
    domain: str, layout: str, host: str, taken: bool
) -> None:
    reason = takes_api_host(SiteDomain(domain, layout), host)
    assert (reason is not None) is taken, reason
    if reason:
        assert host in reason
