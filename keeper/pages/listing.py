"""What a product's generated pages show, read from the database.

One :class:`Listing` feeds every page of a product: the edition dashboard,
the build list and both switcher files, so they always agree on which
editions exist and in what order.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version
from sqlmodel import Session, col, func, select

from keeper.db import (
    MAIN_EDITION,
    Build,
    BuildStatus,
    Edition,
    EditionKind,
    Organization,
    Product,
)
from keeper.edge.site import site_host
from keeper.pages.entries import BuildEntry, EditionEntry, Listing

#: The build list shows this many of the newest builds.
BUILDS_SHOWN = 500
_RELEASE_KINDS = frozenset({EditionKind.release, EditionKind.major, EditionKind.minor})

__all__ = [
    "BUILDS_SHOWN",
    "BuildEntry",
    "EditionEntry",
    "Listing",
    "load_listing",
    "order_editions",
    "source_url",
]


def load_listing(session: Session, org: Organization, product: Product) -> Listing:
    _host, root = site_host(org, product)
    builds_total = session.exec(
        select(func.count())
        .select_from(Build)
        .where(Build.product_id == product.id, Build.status == BuildStatus.complete)
    ).one()
    newest = session.exec(
        select(Build)
        .where(Build.product_id == product.id, Build.status == BuildStatus.complete)
        .order_by(col(Build.id).desc())
        .limit(BUILDS_SHOWN)
    ).all()
    rows = session.exec(select(Edition).where(Edition.product_id == product.id)).all()
    # Editions may point at builds older than the newest shown.
    by_id = {b.id: b for b in newest}
    wanted = {e.build_id for e in rows if e.build_id and e.build_id not in by_id}
    if wanted:
        by_id.update(
            (b.id, b)
            for b in session.exec(
                select(Build).where(
                    col(Build.id).in_(wanted), Build.status == BuildStatus.complete
                )
            )
        )
    editions = [
        _edition_entry(e, by_id[e.build_id], product)
        for e in rows
        if not e.hidden and e.build_id in by_id
    ]
    pointing: dict[str, list[str]] = {}
    for entry in editions:
        pointing.setdefault(entry.build, []).append(entry.slug)
    return Listing(
        org=org.slug,
        org_title=org.title,
        product=product.slug,
        product_title=product.title,
        root=root,
        editions=tuple(order_editions(editions)),
        builds=tuple(
            _build_entry(b, product, tuple(pointing.get(b.public_id, ())))
            for b in newest
        ),
        builds_total=builds_total,
    )


def order_editions(entries: list[EditionEntry]) -> list[EditionEntry]:
    """The default edition, then releases by version (newest first; those
    that are no version after them, by name), then drafts by date (newest
    first)."""
    default = [e for e in entries if e.group == "default"]
    versions: list[tuple[Version, EditionEntry]] = []
    names: list[EditionEntry] = []
    for e in entries:
        if e.group == "release":
            version = _version(e)
            if version is None:
                names.append(e)
            else:
                versions.append((version, e))
    versions.sort(key=lambda pair: (pair[0], pair[1].slug), reverse=True)
    names.sort(key=lambda e: e.slug)
    drafts = sorted(
        (e for e in entries if e.group == "draft"),
        key=lambda e: (e.updated, e.slug),
        reverse=True,
    )
    return default + [e for _, e in versions] + names + drafts


def _version(entry: EditionEntry) -> Version | None:
    # Slugs such as "2.3" or "v1.0.0" sort as versions, and so does a
    # release named otherwise ("stable") that shows a version's build.
    for text in (entry.slug, entry.git_ref):
        try:
            return Version(text)
        except InvalidVersion:
            continue
    return None


def _edition_entry(edition: Edition, build: Build, product: Product) -> EditionEntry:
    is_default = edition.slug == MAIN_EDITION
    if is_default:
        group = "default"
    elif edition.kind in _RELEASE_KINDS:
        group = "release"
    else:
        group = "draft"
    ci = build.ci or {}
    return EditionEntry(
        slug=edition.slug,
        title=edition.title,
        kind=str(edition.kind),
        url="/" if is_default else f"/v/{edition.slug}/",
        build=build.public_id,
        git_ref=build.git_ref,
        updated=edition.published or edition.updated,
        source_url=source_url(product, build),
        is_default=is_default,
        group=group,
        pr_number=_int(ci.get("pr_number")),
    )


def _build_entry(
    build: Build, product: Product, editions: tuple[str, ...]
) -> BuildEntry:
    ci = build.ci or {}
    run_url = ci.get("run_url")
    return BuildEntry(
        public_id=build.public_id,
        url=f"/builds/{build.public_id}/",
        git_ref=build.git_ref,
        created=build.created,
        completed=build.completed,
        file_count=build.file_count,
        total_size=build.total_size,
        editions=editions,
        source_url=source_url(product, build),
        run_url=run_url if isinstance(run_url, str) and _is_web(run_url) else None,
        pr_number=_int(ci.get("pr_number")),
    )


def source_url(product: Product, build: Build) -> str | None:
    """The source tree a build was made from: the product's repository (or
    the GitHub repository its CI reported) at the build's commit or ref."""
    ci = build.ci or {}
    repo = product.source_repo_url
    if not repo and ci.get("provider") == "github" and ci.get("repository"):
        repo = f"https://github.com/{ci['repository']}"
    if not repo or not _is_web(repo):
        return None
    ref = ci.get("commit") or build.git_ref
    repo = repo.rstrip("/").removesuffix(".git")
    # GitLab puts its tree under "/-/"; GitHub, Gitea and Forgejo do not.
    tree = "/-/tree/" if "gitlab" in repo.split("/")[2] else "/tree/"
    return f"{repo}{tree}{ref}"


def _is_web(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url.split("/")) > 2


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
