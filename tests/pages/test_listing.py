"""What a product's pages list, and in what order: the default edition,
releases by version, drafts by date; builds newest first; source links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keeper.db import (
    MAIN_EDITION,
    Build,
    BuildStatus,
    Edition,
    EditionKind,
    Organization,
    Product,
)
from keeper.db.types import pk
from keeper.pages import listing
from keeper.pages.listing import EditionEntry, load_listing, order_editions, source_url

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(
    slug: str,
    group: str,
    *,
    updated: datetime = T0,
    git_ref: str = "main",
) -> EditionEntry:
    return EditionEntry(
        slug=slug,
        title=slug,
        kind={"default": "main", "release": "release", "draft": "draft"}[group],
        url="/" if group == "default" else f"/v/{slug}/",
        build="b",
        git_ref=git_ref,
        updated=updated,
        source_url=None,
        is_default=group == "default",
        group=group,
    )


def slugs(entries: Any) -> list[str]:
    return [e.slug for e in entries]


# -- order_editions ------------------------------------------------------------


def test_default_then_releases_by_version_then_drafts_by_date() -> None:
    given = [
        entry("old-draft", "draft", updated=T0),
        entry("1.9", "release"),
        entry("new-draft", "draft", updated=T0 + timedelta(days=2)),
        entry("2.0", "release"),
        entry(MAIN_EDITION, "default", updated=T0 - timedelta(days=9)),
        entry("1.10", "release"),
        entry("mid-draft", "draft", updated=T0 + timedelta(days=1)),
    ]
    assert slugs(order_editions(given)) == [
        MAIN_EDITION,
        "2.0",
        "1.10",  # as versions, 1.10 > 1.9; as strings it would not be
        "1.9",
        "new-draft",
        "mid-draft",
        "old-draft",
    ]


def test_releases_that_are_no_version_come_after_the_versions_by_name() -> None:
    given = [
        entry("lts", "release", git_ref="lts-branch"),
        entry("1.0", "release"),
        entry("beta", "release", git_ref="beta-branch"),
        entry("2.0rc1", "release"),
        entry("2.0", "release"),
        entry("edge", "release", git_ref="edge-branch"),
    ]
    assert slugs(order_editions(given)) == [
        "2.0",
        "2.0rc1",  # a pre-release sorts below its release
        "1.0",
        "beta",
        "edge",
        "lts",
    ]


def test_a_release_slug_with_a_v_prefix_is_a_version() -> None:
    given = [entry("v1.2.0", "release"), entry("v1.10.0", "release")]
    assert slugs(order_editions(given)) == ["v1.10.0", "v1.2.0"]


def test_order_does_not_depend_on_the_order_given() -> None:
    given = [
        entry(MAIN_EDITION, "default"),
        entry("3.1", "release"),
        entry("3.0", "release"),
        entry("docs", "release", git_ref="docs"),
        entry("a", "draft", updated=T0),
        entry("b", "draft", updated=T0 + timedelta(hours=1)),
    ]
    expected = slugs(order_editions(given))
    assert slugs(order_editions(list(reversed(given)))) == expected
    assert slugs(order_editions(given[3:] + given[:3])) == expected


def test_no_editions_no_entries() -> None:
    assert order_editions([]) == []


# -- load_listing over a real database ----------------------------------------


class World:
    """Rows written straight to the database, at the times the test says."""

    def __init__(self, session: Session, *, layout: str = "subdomain") -> None:
        self.session = session
        self.org = Organization(
            slug="lsst", title="LSST", base_domain="lsst.io", url_layout=layout
        )
        session.add(self.org)
        session.flush()
        self.product = Product(
            org_id=pk(self.org),
            slug="pipelines",
            title="Pipelines",
            source_repo_url="https://github.com/lsst/pipelines",
        )
        session.add(self.product)
        session.flush()
        self.n = 0

    def build(
        self,
        git_ref: str,
        *,
        status: BuildStatus = BuildStatus.complete,
        ci: dict[str, Any] | None = None,
    ) -> Build:
        self.n += 1
        when = T0 + timedelta(minutes=self.n)
        build = Build(
            public_id=f"b{self.n:03d}",
            product_id=pk(self.product),
            git_ref=git_ref,
            status=status,
            ci=ci or {},
            file_count=self.n,
            total_size=1000 * self.n,
            created=when,
            completed=when if status == BuildStatus.complete else None,
        )
        self.session.add(build)
        self.session.flush()
        return build

    def edition(
        self,
        slug: str,
        kind: EditionKind,
        build: Build | None,
        *,
        published: datetime = T0,
        hidden: bool = False,
        title: str | None = None,
    ) -> Edition:
        edition = Edition(
            product_id=pk(self.product),
            slug=slug,
            title=title or slug,
            kind=kind,
            build_id=build.id if build else None,
            hidden=hidden,
            published=published if build else None,
        )
        self.session.add(edition)
        self.session.flush()
        return edition

    def listing(self) -> listing.Listing:
        self.session.commit()
        return load_listing(self.session, self.org, self.product)


def test_listing_groups_and_orders_what_readers_can_open(engine: Engine) -> None:
    with Session(engine) as session:
        w = World(session)
        main = w.build("main")
        w.edition(MAIN_EDITION, EditionKind.main, main, title="Latest")
        for version in ("1.9", "1.10", "2.0"):
            w.edition(version, EditionKind.minor, w.build(f"v{version}.0"))
        w.edition("lts", EditionKind.release, w.build("lts-branch"))
        w.edition("DM-1", EditionKind.draft, w.build("tickets/DM-1"), published=T0)
        w.edition(
            "DM-3",
            EditionKind.draft,
            w.build("tickets/DM-3"),
            published=T0 + timedelta(days=3),
        )
        w.edition(
            "DM-2",
            EditionKind.alternate,
            w.build("tickets/DM-2"),
            published=T0 + timedelta(days=1),
        )
        w.edition("secret", EditionKind.draft, w.build("secret"), hidden=True)
        w.edition("empty", EditionKind.release, None)
        w.edition("broken", EditionKind.draft, w.build("x", status=BuildStatus.failed))
        w.edition(
            "waiting", EditionKind.draft, w.build("y", status=BuildStatus.pending)
        )
        found = w.listing()

    assert slugs(found.editions) == [
        MAIN_EDITION,
        "2.0",
        "1.10",
        "1.9",
        "lts",
        "DM-3",
        "DM-2",
        "DM-1",
    ]
    groups = {e.slug: e.group for e in found.editions}
    assert groups[MAIN_EDITION] == "default"
    assert {groups[s] for s in ("2.0", "1.10", "1.9", "lts")} == {"release"}
    assert {groups[s] for s in ("DM-3", "DM-2", "DM-1")} == {"draft"}
    default = found.default
    assert default is not None and default.slug == MAIN_EDITION
    assert default.url == "/" and default.title == "Latest" and default.is_default
    assert [e.is_default for e in found.editions].count(True) == 1
    by_slug = {e.slug: e for e in found.editions}
    assert by_slug["1.10"].url == "/v/1.10/"
    assert by_slug["1.10"].git_ref == "v1.10.0"
    assert by_slug["DM-3"].updated == T0 + timedelta(days=3)
    # Failed and pending builds are neither listed nor counted.
    assert found.builds_total == 9
    # The hidden edition's build is still a build.
    assert slugs_of_builds(found) == [f"b{n:03d}" for n in range(9, 0, -1)]


def slugs_of_builds(found: listing.Listing) -> list[str]:
    return [b.public_id for b in found.builds]


def test_builds_name_the_visible_editions_that_show_them(engine: Engine) -> None:
    with Session(engine) as session:
        w = World(session)
        shared = w.build("v1.0.0")
        alone = w.build("feature")
        w.edition(MAIN_EDITION, EditionKind.main, shared)
        w.edition("1.0", EditionKind.minor, shared)
        w.edition("1", EditionKind.major, shared)
        w.edition("hidden", EditionKind.draft, alone, hidden=True)
        found = w.listing()
    builds = {b.public_id: b for b in found.builds}
    assert sorted(builds[shared.public_id].editions) == sorted(
        [MAIN_EDITION, "1.0", "1"]
    )
    assert builds[alone.public_id].editions == ()
    assert builds[shared.public_id].url == f"/builds/{shared.public_id}/"
    assert builds[alone.public_id].file_count == 2


def test_an_edition_on_a_build_older_than_the_shown_ones_is_still_listed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "BUILDS_SHOWN", 2)
    with Session(engine) as session:
        w = World(session)
        old = w.build("v1.0.0")
        w.edition("1.0", EditionKind.minor, old)
        newest = [w.build("main") for _ in range(3)]
        w.edition(MAIN_EDITION, EditionKind.main, newest[-1])
        found = w.listing()
    assert slugs(found.editions) == [MAIN_EDITION, "1.0"]
    assert slugs_of_builds(found) == [newest[2].public_id, newest[1].public_id]
    assert found.builds_total == 4


def test_a_product_with_nothing_published_lists_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        w = World(session)
        w.edition(MAIN_EDITION, EditionKind.main, None)
        found = w.listing()
    assert found.editions == () and found.builds == ()
    assert found.builds_total == 0 and found.default is None
    assert (found.org, found.product, found.product_title) == (
        "lsst",
        "pipelines",
        "Pipelines",
    )


def test_path_layout_puts_the_product_in_front(engine: Engine) -> None:
    with Session(engine) as session:
        w = World(session, layout="path")
        w.edition(MAIN_EDITION, EditionKind.main, w.build("main"))
        found = w.listing()
    assert found.root == "/pipelines"
    # Entry URLs stay below the root; the pages put the root in front.
    assert found.editions[0].url == "/"


def test_editions_link_their_source_tree_at_the_commit(engine: Engine) -> None:
    with Session(engine) as session:
        w = World(session)
        at_commit = w.build("main", ci={"commit": "abc123", "pr_number": 7})
        w.edition(MAIN_EDITION, EditionKind.main, at_commit)
        w.edition("DM-1", EditionKind.draft, w.build("tickets/DM-1"))
        found = w.listing()
    by_slug = {e.slug: e for e in found.editions}
    assert by_slug[MAIN_EDITION].source_url == (
        "https://github.com/lsst/pipelines/tree/abc123"
    )
    assert by_slug[MAIN_EDITION].pr_number == 7
    assert by_slug["DM-1"].source_url == (
        "https://github.com/lsst/pipelines/tree/tickets/DM-1"
    )


# -- source_url ----------------------------------------------------------------


def _product(repo: str | None) -> Product:
    return Product(org_id=1, slug="p", title="P", source_repo_url=repo)


def _build(git_ref: str = "main", **ci: Any) -> Build:
    return Build(public_id="b", product_id=1, git_ref=git_ref, ci=ci)


@pytest.mark.parametrize(
    ("repo", "build", "expected"),
    [
        (
            "https://github.com/lsst/pipelines",
            _build("v1.0.0"),
            "https://github.com/lsst/pipelines/tree/v1.0.0",
        ),
        (
            "https://github.com/lsst/pipelines.git/",
            _build("main", commit="0123abc"),
            "https://github.com/lsst/pipelines/tree/0123abc",
        ),
        (
            "https://gitlab.example.org/group/docs",
            _build("main"),
            "https://gitlab.example.org/group/docs/-/tree/main",
        ),
        (
            None,
            _build("main", provider="github", repository="lsst/sqr-001", commit="f00"),
            "https://github.com/lsst/sqr-001/tree/f00",
        ),
        # The product's own repository wins over what CI reported.
        (
            "https://codeberg.org/me/docs",
            _build("main", provider="github", repository="lsst/other"),
            "https://codeberg.org/me/docs/tree/main",
        ),
        (None, _build("main"), None),
        (None, _build("main", provider="gitlab", repository="g/p"), None),
        ("javascript:alert(1)", _build("main"), None),
        ("git@github.com:lsst/pipelines.git", _build("main"), None),
    ],
)
def test_source_url(repo: str | None, build: Build, expected: str | None) -> None:
    assert source_url(_product(repo), build) == expected
