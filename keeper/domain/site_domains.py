"""Which hosts an organization's sites answer for, and when two claims collide.

An org's ``base_domain`` and ``url_layout`` decide the requests its sites
take, before the API sees them (:mod:`keeper.edge.dispatch`):

- ``subdomain``: every ``<product>.<base_domain>``, whatever the path;
- ``path``: ``<base_domain>`` itself, for paths under ``/<product>``.

Products are created later by the org's own admins, so what counts is every
product slug the org *could* create, not the ones it has. Two orgs collide
when some request could belong to both; an org collides with keeper when
keeper's own host could be one of its sites (its products would then take
``/api``, ``/docs`` or ``/token`` away from the API). On top of that, a
domain belongs to one org: two orgs never share a base domain, even in
layouts that would not overlap (``subdomain`` on ``d`` takes ``x.d``,
``path`` on ``d`` takes ``d``), so a domain always names a single tenant
and the database can hold the rule as a unique index.

Base domains are stored normalised, in the form a ``Host`` header carries
and the edge compares (:func:`keeper.edge.app.request_host`): lower case, no
trailing dot, no port. The checks refuse rather than guess:

- **Unicode names** are refused; the ASCII form (``xn--…``) is what readers'
  browsers send. Converting here would need a choice between IDNA2003
  (Python's own codec: ``ß`` → ``ss``) and IDNA2008/UTS 46 (browsers: ``ß``
  kept), which give different hosts for the same name; whichever keeper
  picked, some readers would reach nothing. Comparing ASCII forms also keeps
  look-alike names apart in the uniqueness rule and in listings.
- **IP addresses** are refused: a site needs a name (``<product>.10.0.0.1``
  is none), and a name whose last label is a number is read as an address.
- **Ports** belong in the org's ``site_port``; edges match ``Host`` without
  one, so ``docs.test:8000`` could never match.
- ``""`` means the org has no sites; any number of orgs may have it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

#: A product slug, and equally one DNS label (RFC 1123): the first label of
#: a subdomain-layout site is always a product slug.
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
#: RFC 1035's limit for a whole name, without the trailing dot.
MAX_HOSTNAME = 253


class DomainError(ValueError):
    """A base domain keeper cannot use; the message says why."""


def normalise_base_domain(value: str) -> str:
    """``value`` as stored: ``""`` or a lower-case hostname without a
    trailing dot. Raises :class:`DomainError` naming what is wrong."""
    name = value.strip()
    if not name:
        return ""
    if not name.isascii():
        raise DomainError(
            f"{value!r} is not ASCII: give an internationalised name in its "
            "ASCII form (xn--…), the one browsers send"
        )
    if "://" in name or "/" in name:
        raise DomainError(
            f"{value!r} is not a host name: leave out the scheme and path "
            "(url_layout 'path' serves <base_domain>/<product>/)"
        )
    if name.startswith("[") or name.count(":") > 1:
        raise DomainError(f"{value!r} is an IP address; sites need a host name")
    if ":" in name:
        raise DomainError(
            f"{value!r} has a port: give the host alone and the port as site_port"
        )
    name = name.lower()
    if name.endswith("."):
        # The same name in DNS, and what the edge strips from Host.
        name = name[:-1]
    if len(name) > MAX_HOSTNAME:
        raise DomainError(f"a host name has at most {MAX_HOSTNAME} characters")
    labels = name.split(".")
    for label in labels:
        if label.startswith("*"):
            raise DomainError(
                f"{value!r} is a wildcard; give the base domain itself "
                "(products get <product>.<base_domain>)"
            )
        if not LABEL.match(label):
            raise DomainError(
                f"{value!r} is not a host name: each dot-separated part must be "
                "1 to 63 letters, digits or inner hyphens"
            )
    if labels[-1].isdigit():
        raise DomainError(
            f"{value!r} looks like an IP address (its last part is a number); "
            "sites need a host name"
        )
    return name


def api_host(base_url: str) -> str:
    """Keeper's own host, from its public URL, as the edge sees ``Host``."""
    host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class SiteDomain:
    """Where one org's sites live."""

    domain: str
    layout: str = "subdomain"

    def could_serve(self, host: str) -> bool:
        """Whether a request for ``host`` would reach one of these sites,
        for some product the org has or could create."""
        if not self.domain:
            return False
        if self.layout == "path":
            return host == self.domain
        label, dot, parent = host.partition(".")
        return bool(dot) and parent == self.domain and bool(LABEL.match(label))

    def describe(self) -> str:
        if self.layout == "path":
            return f"{self.domain}/<product>/"
        return f"<product>.{self.domain}"


def collision(a: SiteDomain, b: SiteDomain) -> str | None:
    """Why two orgs' sites cannot both exist, or None when they can.

    Besides an equal base domain, requests can overlap only one way: a
    ``path`` org's single host is ``<slug>.<d>`` and a ``subdomain`` org has
    ``d``, so its product ``<slug>`` would take every page of the other.
    (Two subdomain orgs share a host only when ``<s>.<d1>`` is
    ``<t>.<d2>``, which needs ``d1 == d2``, as one label holds no dot; two
    path orgs only when their hosts, the domains, are equal.)
    """
    if not a.domain or not b.domain:
        return None
    if a.domain == b.domain:
        return f"both use the base domain {a.domain}"
    for owner, other in ((a, b), (b, a)):
        if other.layout == "path" and owner.could_serve(other.domain):
            slug = other.domain.partition(".")[0]
            return (
                f"{other.domain} is where {owner.describe()} would serve a "
                f"product {slug!r}"
            )
    return None


def takes_api_host(site: SiteDomain, host: str) -> str | None:
    """Why ``site`` would take keeper's own host away from the API, or None."""
    if not site.could_serve(host):
        return None
    if site.layout == "path":
        return (
            f"{host} is keeper's own host: products at {site.describe()} "
            "would answer for the API's paths"
        )
    return (
        f"{host} is keeper's own host: a product {host.partition('.')[0]!r} "
        f"at {site.describe()} would answer for the API"
    )
