"""``keeper pages refresh`` writes every product's pages again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from keeper.cli import main
from keeper.config import get_settings
from tests.pages.conftest import (
    BASE,
    ORG,
    PAGES,
    PRODUCT,
    Docs,
    create_org,
    create_product,
)
from tests.publishing import publish, site


@pytest.fixture
def settings_cache() -> Iterator[None]:
    """The command reads its settings once per process: forget them around
    each run."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def refresh(docs: Docs, *args: str) -> Result:
    settings = docs.keeper.settings
    env = {
        "KEEPER_DATABASE_URL": settings.database_url,
        "KEEPER_STORAGE_URL": settings.storage_url,
        "KEEPER_SECRET_KEY_FILE": str(settings.secret_key_file),
    }
    get_settings.cache_clear()
    return CliRunner().invoke(main, ["pages", "refresh", *args], env=env)


def wipe(docs: Docs, product: str = PRODUCT, org: str = ORG) -> None:
    docs.store(org).delete_prefix(f"{product}/_meta/")
    assert docs.meta_keys(product, org) == set()


@pytest.mark.usefixtures("settings_cache")
def test_refresh_writes_missing_pages(docs: Docs) -> None:
    create_product(docs.keeper, ORG, "other")
    publish(docs.client, BASE, docs.h, site("main"))
    publish(docs.client, BASE, docs.h, site("x"), git_ref="feature-x")
    expected = {name: docs.page(name) for name in PAGES}
    wipe(docs)
    wipe(docs, "other")
    # A page someone damaged is written again as well.
    docs.store().put(f"{PRODUCT}/_meta/v/switcher.json", b"[]")

    result = refresh(docs)
    assert result.exit_code == 0, result.output
    assert "wrote the pages of 2 of 2 product(s)" in result.output
    assert {name: docs.page(name) for name in PAGES} == expected
    assert docs.meta_keys("other") == set(PAGES)


@pytest.mark.usefixtures("settings_cache")
def test_refresh_of_one_org_leaves_the_others(docs: Docs) -> None:
    create_org(docs.keeper, "rubin")
    create_product(docs.keeper, "rubin", "guide")
    publish(docs.client, BASE, docs.h, site("main"))
    wipe(docs)
    wipe(docs, "guide", "rubin")

    result = refresh(docs, "--org", "rubin")
    assert result.exit_code == 0, result.output
    assert "wrote the pages of 1 of 1 product(s)" in result.output
    assert docs.meta_keys("guide", "rubin") == set(PAGES)
    assert docs.meta_keys() == set()


@pytest.mark.usefixtures("settings_cache")
def test_refresh_of_an_unknown_org_says_so(docs: Docs) -> None:
    result = refresh(docs, "--org", "nope")
    assert result.exit_code == 1
    assert "nope" in result.output
    assert "Traceback" not in result.output
