"""The Fastly edge: custom VCL that reads editions from edge dictionaries.

:func:`render` writes ``fastly.vcl`` (uploaded once by a person, see the
comment at its top) and ``dictionaries.json`` (the items the two edge
dictionaries should hold). After a publish, :meth:`FastlyTarget.activate`
brings Fastly's dictionaries in line with those items in one batch each and
purges the changed products' surrogate keys, so re-pointing an edition never
needs a VCL upload. Only redirect rule sets are compiled into the VCL; a
rule set the VCL lacks is served without its rules (and says so in an
``LTD-Warning`` header) until the file is uploaded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jinja2 import Environment

from keeper.cdn.fastly import (
    DEFAULT_API_URL,
    TOKEN_ENV,
    FastlyClient,
    ItemOp,
    diff_items,
)
from keeper.db import MAIN_EDITION
from keeper.domain.limits import MAX_EDGE_TARGET_BYTES
from keeper.edge import rules
from keeper.edge.pages import platform_not_found
from keeper.edge.redirects import Rule, pattern
from keeper.edge.render import RenderContext
from keeper.edge.render.generated import DASHBOARD_DIRS_REGEX, generated_pages
from keeper.edge.render.templating import environment
from keeper.edge.site import INDEX_PAGE, NOT_FOUND_PAGE, SiteView

log = logging.getLogger(__name__)

VCL_FILE = "fastly.vcl"
ITEMS_FILE = "dictionaries.json"
#: The edge dictionaries' names, as the VCL reads them.
EDITIONS_DICTIONARY = "ltd_editions"
BUILDS_DICTIONARY = "ltd_builds"
#: ``--option`` settings this target reads, and what they are.
SETTINGS = {
    "service_id": "the Fastly service's id",
    "dictionary_id": f"the id of the {EDITIONS_DICTIONARY} edge dictionary",
    "builds_dictionary_id": f"the id of the {BUILDS_DICTIONARY} edge dictionary",
    "api_url": f"Fastly's API (default {DEFAULT_API_URL})",
    "soft_purge": "true to mark purged content stale rather than evict it",
    "max_items": "items a dictionary may hold (Fastly's default: 1000)",
}
REQUIRED = ("service_id", "dictionary_id", "builds_dictionary_id")
DEFAULT_MAX_ITEMS = 1000
_REDIRECT_REASONS = (
    (302, "Found"),
    (303, "See Other"),
    (307, "Temporary Redirect"),
    (308, "Permanent Redirect"),
)
_SECRET_NAMES = re.compile(r"token|key$|secret|password", re.IGNORECASE)


class FastlySetupError(ValueError):
    """A Fastly edge that cannot work as configured; the message says why."""


@dataclass(frozen=True)
class Items:
    """What the two edge dictionaries should hold."""

    editions: dict[str, str]
    builds: dict[str, str]

    def as_json(self) -> str:
        return (
            json.dumps(
                {EDITIONS_DICTIONARY: self.editions, BUILDS_DICTIONARY: self.builds},
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )


@dataclass(frozen=True)
class Settings:
    service_id: str
    dictionary_id: str
    builds_dictionary_id: str
    api_url: str = DEFAULT_API_URL
    soft_purge: bool = False
    max_items: int = DEFAULT_MAX_ITEMS

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Settings:
        """Checked settings; raises naming every missing or bad one."""
        check_setting_names(raw)
        missing = [k for k in REQUIRED if not str(raw.get(k) or "").strip()]
        if missing:
            raise FastlySetupError(
                "the Fastly edge needs "
                + ", ".join(f"--option {k}=<{SETTINGS[k]}>" for k in missing)
            )
        max_items = str(raw.get("max_items") or DEFAULT_MAX_ITEMS)
        if not max_items.isdigit() or int(max_items) < 1:
            raise FastlySetupError(f"max_items must be a positive number: {max_items}")
        return cls(
            service_id=str(raw["service_id"]).strip(),
            dictionary_id=str(raw["dictionary_id"]).strip(),
            builds_dictionary_id=str(raw["builds_dictionary_id"]).strip(),
            api_url=str(raw.get("api_url") or DEFAULT_API_URL).strip(),
            soft_purge=_flag("soft_purge", raw.get("soft_purge")),
            max_items=int(max_items),
        )


def check_setting_names(raw: Mapping[str, Any]) -> None:
    for name in raw:
        if name in SETTINGS:
            continue
        if _SECRET_NAMES.search(name):
            raise FastlySetupError(
                f"--option {name}: the Fastly API token is read from the "
                f"{TOKEN_ENV} environment variable only (options are stored "
                "in keeper's database)"
            )
        raise FastlySetupError(
            f"unknown Fastly option {name!r}; use " + ", ".join(sorted(SETTINGS))
        )


def _flag(name: str, value: Any) -> bool:
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise FastlySetupError(f"{name} takes true or false, not {value!r}")


# -- the dictionaries ---------------------------------------------------------


def site_id(site: SiteView) -> str:
    """How the VCL names a site: its host and root, ``demo.docs.test`` or
    ``docs.test/demo``."""
    return site.host + site.root


def rules_fingerprint(rule_list: Sequence[Rule]) -> str:
    """A name for a rule set: the same rules give the same name, so builds
    that keep their ``_redirects`` file share one block of VCL."""
    text = json.dumps([r.as_dict() for r in rule_list], sort_keys=True)
    return "r" + hashlib.sha256(text.encode()).hexdigest()[:12]


def dictionary_items(ctx: RenderContext) -> Items:
    editions: dict[str, str] = {}
    builds: dict[str, str] = {}
    for site in ctx.sites:
        sid = site_id(site)
        value = f"key={site.key()} prefix={site.builds_prefix}"
        if site.meta_prefix:
            value += f" meta={site.meta_prefix}"
        if site.redirects:
            value += f" rules={rules_fingerprint(site.redirects)}"
        editions[sid] = value
        for slug, edition in sorted(site.editions.items()):
            if edition.build is not None:
                noindex = " noindex" if edition.noindex else ""
                editions[f"{sid}/{slug}"] = f"build={edition.build}{noindex}"
        for public_id, build in sorted(site.builds.items()):
            flags = ["complete"]
            if NOT_FOUND_PAGE in ctx.pages.get(public_id, ()):
                flags.append("has-404")
            if build.redirects:
                flags.append(f"rules={rules_fingerprint(build.redirects)}")
            builds[f"{sid}/{public_id}"] = " ".join(flags)
    return Items(editions=editions, builds=builds)


# -- the VCL --------------------------------------------------------------------


def vcl_string(text: str) -> str:
    """A Fastly VCL string literal holding ``text`` exactly: a long string,
    which knows no escapes (a plain one would decode ``%xx``)."""
    if '"}' not in text:
        return '{"' + text + '"}'
    delimiter = "LTD"
    while f'"{delimiter}}}' in text:
        delimiter += "X"
    return "{" + delimiter + '"' + text + '"' + delimiter + "}"


def vcl_concat(parts: Iterable[str | tuple[str]]) -> str:
    """A VCL expression concatenating literal strings and (1-tuples of)
    variables."""
    out = [
        part[0] if isinstance(part, tuple) else vcl_string(part)
        for part in parts
        if part != ""
    ]
    return " + ".join(out) or '""'


@dataclass(frozen=True)
class CompiledRule:
    pattern: str
    status: int
    splat: bool
    #: A VCL expression for the target, the splat in ``LTD-Splat``.
    target: str
    #: What takes the splat out of the raw path, in group 1
    #: (:func:`keeper.edge.redirects.splat_of`).
    raw_splat: str = ""


def compile_rules(rule_list: Sequence[Rule]) -> list[CompiledRule]:
    compiled = []
    for rule in rule_list:
        pieces: list[str | tuple[str]] = []
        for n, piece in enumerate(rule.target.split(":splat")):
            if n:
                pieces.append(("req.http.LTD-Splat",))
            pieces.append(piece)
        depth = rule.source[:-2].count("/")
        compiled.append(
            CompiledRule(
                pattern(rule),
                rule.status,
                rule.splat,
                vcl_concat(pieces),
                raw_splat=f"^(?:/[^/]*){{{depth}}}/?(.*)$",
            )
        )
    return compiled


def rule_sets(ctx: RenderContext) -> list[dict[str, Any]]:
    found: dict[str, Sequence[Rule]] = {}
    for site in ctx.sites:
        for rule_list in (site.redirects, *(b.redirects for b in site.builds.values())):
            if rule_list:
                found.setdefault(rules_fingerprint(rule_list), rule_list)
    return [
        {"fingerprint": fp, "rules": compile_rules(found[fp])} for fp in sorted(found)
    ]


_PRODUCT_MARK = "ltdproductmarkq"
_ROOT_MARK = "ltdrootmarkq"


def platform_page_expression(
    org_title: str = "", templates: Mapping[str, str] | None = None
) -> str:
    """The platform's 404 page as a VCL expression: the same template as
    every edge, with the product and root filled in at the edge, so a new
    product needs no new VCL."""
    marker = SiteView(
        org="",
        product=_PRODUCT_MARK,
        host="",
        root=_ROOT_MARK,
        editions={},
        builds={},
    )
    text = platform_not_found(marker, org_title=org_title, templates=templates)
    parts: list[str | tuple[str]] = []
    for n, chunk in enumerate(text.split(_PRODUCT_MARK)):
        if n:
            parts.append(("req.http.LTD-Product",))
        for m, piece in enumerate(chunk.split(_ROOT_MARK)):
            if m:
                parts.append(("req.http.LTD-Root",))
            parts.append(piece)
    return vcl_concat(parts)


def _environment() -> Environment:
    return environment("fastly", vcl=vcl_string)


_LTD_HEADER = re.compile(r"req\.http\.(LTD-[A-Za-z-]+)")


def render_vcl(ctx: RenderContext, items: Items) -> str:
    origin = ctx.origin
    host, port = origin.host_port
    default_port = 443 if origin.https else 80
    text = (
        _environment()
        .get_template("fastly.vcl.jinja")
        .render(
            org=ctx.org,
            hosts=", ".join(sorted({s.host for s in ctx.sites})) or "none yet",
            endpoint=origin.endpoint,
            https=origin.https,
            port=port,
            host_header=host if port == default_port else f"{host}:{port}",
            path_prefix=quote(origin.path_prefix),
            edition_items=len(items.editions),
            build_items=len(items.builds),
            rule_sets=rule_sets(ctx),
            bad_raw_path=rules.BAD_RAW_PATH,
            host=rules.HOST,
            target_too_long=rules.TARGET_TOO_LONG,
            path_too_long=rules.PATH_TOO_LONG,
            max_target=MAX_EDGE_TARGET_BYTES,
            asset_path=rules.ASSET_PATH,
            pin_cookie=rules.PIN_COOKIE,
            immutable=rules.IMMUTABLE,
            revalidate=rules.REVALIDATE,
            main=MAIN_EDITION,
            index_page=INDEX_PAGE,
            not_found_page=NOT_FOUND_PAGE,
            redirect_statuses=_REDIRECT_REASONS,
            generated=generated_pages(),
            dashboard_dirs=DASHBOARD_DIRS_REGEX,
            platform_page=platform_page_expression(ctx.org_title, ctx.page_templates),
            unset_headers="{{ unset_headers }}",
        )
    )
    # Every internal header the VCL uses is cleared from readers' requests.
    names = sorted(set(_LTD_HEADER.findall(text)))
    unsets = "\n".join(f"    unset req.http.{name};" for name in names)
    return text.replace("{{ unset_headers }}", unsets)


# -- the target -------------------------------------------------------------------


class FastlyTarget:
    name = "fastly"

    def render(self, ctx: RenderContext) -> dict[str, str]:
        if ctx.origin.kind != "s3" or not ctx.origin.endpoint:
            raise FastlySetupError(
                "Fastly needs an S3 origin: it fetches builds over HTTP from the "
                f"bucket, but organization {ctx.org!r} stores them in a "
                f"{ctx.origin.kind} store (configure an s3:// storage URL)"
            )
        check_setting_names(ctx.settings)
        items = dictionary_items(ctx)
        return {VCL_FILE: render_vcl(ctx, items), ITEMS_FILE: items.as_json()}

    def command(self, ctx: RenderContext) -> str:
        service = ctx.settings.get("service_id") or "<service id>"
        return (
            f"upload {ctx.out_dir / VCL_FILE} as the main custom VCL of Fastly "
            f"service {service} (no server to start; its first lines say how); "
            f"then every publish updates the {EDITIONS_DICTIONARY} and "
            f"{BUILDS_DICTIONARY} dictionaries and purges, with {TOKEN_ENV} "
            "taken from keeper's environment"
        )

    def activate(self, ctx: RenderContext, changed: Sequence[SiteView]) -> None:
        settings = Settings.parse(ctx.settings)
        items = dictionary_items(ctx)
        for name, wanted in (
            (EDITIONS_DICTIONARY, items.editions),
            (BUILDS_DICTIONARY, items.builds),
        ):
            if len(wanted) > settings.max_items:
                raise FastlySetupError(
                    f"the {name} dictionary would hold {len(wanted)} items, more "
                    f"than max_items={settings.max_items}: ask Fastly to raise the "
                    "dictionary limit, then set --option max_items=<the new limit>"
                )
        with FastlyClient.from_env(api_url=settings.api_url) as client:
            sync(client, settings, items, changed)


def sync(
    client: FastlyClient,
    settings: Settings,
    items: Items,
    changed: Sequence[SiteView],
) -> tuple[list[ItemOp], list[ItemOp], list[str]]:
    """Bring both dictionaries in line with ``items`` and purge; returns the
    operations sent to each dictionary and the keys purged.

    Builds are added before editions may point at them and removed after
    editions stopped pointing at them.
    """
    service = settings.service_id
    live_builds = client.list_items(service, settings.builds_dictionary_id)
    live_editions = client.list_items(service, settings.dictionary_id)
    build_ops = diff_items(live_builds, items.builds)
    edition_ops = diff_items(live_editions, items.editions)
    client.update_items(
        service,
        settings.builds_dictionary_id,
        [op for op in build_ops if op.op == "upsert"],
    )
    client.update_items(service, settings.dictionary_id, edition_ops)
    client.update_items(
        service,
        settings.builds_dictionary_id,
        [op for op in build_ops if op.op == "delete"],
    )
    new_sets = _rule_sets_in(items) - _rule_sets_in(
        Items(editions=live_editions, builds=live_builds)
    )
    # A first fill follows the upload of the VCL just rendered; later,
    # rule sets no item named before were not in the uploaded VCL.
    if new_sets and (live_editions or live_builds):
        log.warning(
            "Fastly edge: redirect rule sets %s are new; upload the rendered "
            "%s again for them to apply",
            ", ".join(sorted(new_sets)),
            VCL_FILE,
        )
    keys = purge_keys(changed, live_editions, edition_ops)
    if keys:
        client.purge_keys(service, keys, soft=settings.soft_purge)
    return build_ops, edition_ops, keys


def purge_keys(
    changed: Sequence[SiteView],
    live_editions: Mapping[str, str],
    edition_ops: Sequence[ItemOp],
) -> list[str]:
    """The changed products' keys and their editions' (as in
    :func:`keeper.edge.rules.headers`), plus those of editions and products
    whose items were just deleted."""
    keys: list[str] = []
    by_id = {site_id(site): site for site in changed}
    for site in changed:
        keys.append(site.key())
        keys += [site.key("v", slug) for slug in sorted(site.editions)]
    site_keys = {
        sid: match.group(1)
        for sid, value in live_editions.items()
        if (match := re.search(r"(?:^| )key=(\S+)", value))
    }
    for op in edition_ops:
        if op.op != "delete":
            continue
        if op.key in site_keys:  # a product that is gone
            keys.append(site_keys[op.key])
            continue
        sid, _, slug = op.key.rpartition("/")
        owner = by_id.get(sid)
        key = owner.key() if owner else site_keys.get(sid)
        if key:
            keys.append(f"{key}/v/{slug}")
    return list(dict.fromkeys(keys))


def _rule_sets_in(items: Items) -> set[str]:
    found = set()
    for value in (*items.editions.values(), *items.builds.values()):
        match = re.search(r"(?:^| )rules=(\S+)", value)
        if match:
            found.add(match.group(1))
    return found


TARGET = FastlyTarget()

__all__ = ["TARGET", "FastlySetupError", "Items", "Settings", "dictionary_items"]
