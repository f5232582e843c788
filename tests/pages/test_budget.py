"""Org templates render in worker processes within a budget of CPU time,
time by the clock and memory (keeper.pages.budget): Jinja's sandbox stops
a template reaching Python, not looping for ever."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

from keeper.db import MAIN_EDITION
from keeper.pages import budget
from keeper.pages.budget import Budget, BudgetExceeded, RendererUnavailable, Strikes
from keeper.pages.render import (
    environment,
    platform_not_found,
    product_pages,
    render_pages,
)
from tests.pages.test_render import build, edition, make_listing

#: A budget small enough for tests to spend quickly.
SMALL = Budget(cpu_seconds=1, wall_seconds=10, memory_bytes=256 * 1024 * 1024)
#: The most a refused template may take here: its budget and a new worker,
#: on a machine shared with other tests.
BOUND = 20.0

LOOPS = (
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
)
HOSTILE = {
    "nested loops": (LOOPS, "cpu"),
    "huge string formatting": ("{{ '%0999999999d' % 1 }}", "memory"),
    "a huge list": (
        "{% set x = [] %}{% for a in range(100000) %}{% for b in range(100000) %}"
        "{{ x.append(b) or '' }}{% endfor %}{% endfor %}",
        ("cpu", "memory"),
    ),
    "branching macro recursion": (
        "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}"
        "{% endmacro %}{{ f(0) }}",
        "cpu",
    ),
    "a page over the output budget": (
        "{% for a in range(100) %}{{ 'x' * 999999 }}{% endfor %}",
        "output",
    ),
}


@pytest.fixture(autouse=True)
def small_budget() -> Iterator[None]:
    budget.configure(SMALL)
    budget.strikes.clear()
    yield
    budget.strikes.clear()
    budget.configure(Budget())


def refused(overrides: dict[str, str]) -> BudgetExceeded:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as caught:
        platform_not_found("P", "", overrides=overrides, strict=True)
    assert time.monotonic() - started < BOUND
    return caught.value


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_templates_exceed_the_budget_in_bounded_time(name: str) -> None:
    source, what = HOSTILE[name]
    exceeded = refused({"404.html": source})
    assert exceeded.what in ((what,) if isinstance(what, str) else what)
    assert exceeded.template == "404.html"
    assert "404.html" in str(exceeded) and exceeded.spent in str(exceeded)
    # The worker it killed is replaced: the next page renders.
    assert platform_not_found("P", "", overrides={"404.html": "ok"}) == "ok"


def test_deep_macro_recursion_is_an_error_not_a_crash() -> None:
    source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    with pytest.raises(RecursionError):
        platform_not_found("P", "", overrides={"404.html": source}, strict=True)


def test_the_clock_stops_what_the_cpu_budget_would_not() -> None:
    budget.configure(Budget(cpu_seconds=60, wall_seconds=1))
    exceeded = refused({"404.html": LOOPS})
    assert exceeded.what == "time"
    assert exceeded.spent == "took more than 1 s"


def test_template_errors_keep_their_kind_across_the_process() -> None:
    def fails(source: str) -> Exception:
        with pytest.raises(Exception) as caught:
            render_pages(make_listing(), {"editions.html": source})
        return caught.value

    source = "<p>\n{% for e in editions %}\n<p>\n"
    syntax = fails(source)
    assert isinstance(syntax, TemplateSyntaxError)
    with pytest.raises(TemplateSyntaxError) as here:  # in this process
        environment({"editions.html": source}).get_template("editions.html")
    assert (syntax.name, syntax.lineno, syntax.message) == (
        "editions.html",
        here.value.lineno,
        here.value.message,
    )
    assert isinstance(fails("{{ nothing.at_all }}"), UndefinedError)
    assert isinstance(fails("{{ ''.__class__.__mro__ }}"), SecurityError)
    assert isinstance(fails("{{ builds_total // 0 }}"), ZeroDivisionError)
    # An error is no reason to replace the worker: the next page renders.
    pages = render_pages(make_listing(), {"editions.html": "{{ product }}"})
    assert pages["v/index.html"] == b"pipelines"


def test_org_pages_are_the_same_whichever_process_renders_them() -> None:
    """The worker renders with keeper's environment and the same data."""
    env = environment()
    assert env.loader is not None
    overrides = {"base.html": env.loader.get_source(env, "base.html")[0]}
    assert render_pages(make_listing(), overrides) == render_pages(make_listing())


def test_a_template_over_budget_on_a_real_product_gives_keepers_pages(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fine on a product with one build, far too slow with five.
    overrides = {
        "builds.html": (
            "{% for a in range(10 ** builds_total) %}"
            "{% for b in range(10 ** builds_total) %}{% endfor %}{% endfor %}"
            "<p>{{ builds_total }} builds</p>"
        )
    }
    small = make_listing(product="small", builds=(build("b1", ()),), builds_total=1)
    assert product_pages(small, overrides)["builds/index.html"] == b"<p>1 builds</p>"
    builds = tuple(build(f"b{i}", ()) for i in range(5))
    large = make_listing(builds=builds, builds_total=5)
    with caplog.at_level(logging.WARNING, logger="keeper.pages.render"):
        assert product_pages(large, overrides) == render_pages(large)
    assert "builds.html exceeded its render budget" in caplog.text

    # The verdict holds for that product: the next publish spends no budget
    # on it. The product the template suits keeps the org's page.
    tried: list[str] = []
    real_render = budget.render

    def render(*args: Any, **kwargs: Any) -> list[bytes]:
        tried.append(args[2]["product"])
        return real_render(*args, **kwargs)

    monkeypatch.setattr(budget, "render", render)
    assert product_pages(large, overrides) == render_pages(large)
    assert product_pages(small, overrides)["builds/index.html"] == b"<p>1 builds</p>"
    assert tried == ["small"]


def test_a_404_template_over_budget_on_a_real_product_gives_keepers_page() -> None:
    overrides = {
        "404.html": "{% if product_title != 'Sample' %}" + LOOPS + "{% endif %}ORG"
    }
    assert platform_not_found("Sample", "", overrides=overrides, strict=True) == "ORG"
    own = platform_not_found("Pipelines", "/pipelines")
    assert platform_not_found("Pipelines", "/pipelines", overrides=overrides) == own


def stop_workers_in(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, budget.stop_workers)
    timer.start()
    return timer


def test_stopping_the_workers_ends_a_render_in_flight() -> None:
    """Keeper's shutdown does not wait for a template to finish."""
    budget.configure(Budget(cpu_seconds=60, wall_seconds=120))
    started = time.monotonic()
    timer = stop_workers_in(1)  # the worker is looping by then
    with pytest.raises(RendererUnavailable):
        platform_not_found("P", "", overrides={"404.html": LOOPS}, strict=True)
    assert time.monotonic() - started < BOUND
    timer.join()
    # Not the template's fault: product_pages does not write keeper's own
    # pages over the org's for it.
    timer = stop_workers_in(1)
    with pytest.raises(RendererUnavailable):
        product_pages(make_listing(), {"editions.html": LOOPS})
    timer.join()
    # Later pages start new workers.
    assert platform_not_found("P", "", overrides={"404.html": "ok"}) == "ok"


def test_strikes_give_up_on_a_set_after_a_few_products() -> None:
    found = Strikes(strikes=2, hold_for=3600)
    mine, changed = {"404.html": "a"}, {"404.html": "b"}
    found.record(mine, "p1")
    assert found.given_up(mine, "p1")
    assert not found.given_up(mine, "p2")
    found.record(mine, "p2")
    assert found.given_up(mine, "p3")  # two products: no more tries
    assert not found.given_up(changed, "p1")  # a changed template is tried
    expired = Strikes(strikes=2, hold_for=0)
    expired.record(mine, "p1")
    assert not expired.given_up(mine, "p1")


def test_a_listing_with_editions_renders_in_the_worker() -> None:
    found = make_listing(
        editions=(edition(MAIN_EDITION, "default"), edition("2.0", "release"))
    )
    overrides = {"editions.html": "{% for e in editions %}[{{ e.slug }}]{% endfor %}"}
    assert render_pages(found, overrides)["v/index.html"] == b"[__main][2.0]"
