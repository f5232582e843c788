"""What rendering a product's pages costs when its org overrides a template
(a render worker process, keeper.pages.budget) against keeper's own
templates (rendered in keeper's process).

The override is keeper's own ``base.html``, so both render the same
templates and produce the same bytes; the difference is the worker's round
trip: pickling the listing, the socket, and the worker's start once.

    .venv/bin/python -m bench.render [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from keeper.pages import budget
from keeper.pages.entries import BuildEntry, EditionEntry, Listing
from keeper.pages.render import environment, render_pages

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def listing(editions: int, builds: int) -> Listing:
    return Listing(
        org="bench",
        org_title="Bench",
        product="product",
        product_title="Product",
        root="",
        editions=tuple(
            EditionEntry(
                slug=f"{i}.0",
                title=f"{i}.0",
                kind="release",
                url=f"/v/{i}.0/",
                build=f"b{i}",
                git_ref=f"v{i}.0.0",
                updated=WHEN,
                source_url="https://github.com/org/repo/tree/v1",
                is_default=False,
                group="release",
            )
            for i in range(editions)
        ),
        builds=tuple(
            BuildEntry(
                public_id=f"b{i}",
                url=f"/builds/b{i}/",
                git_ref="main",
                created=WHEN,
                completed=WHEN,
                file_count=5000,
                total_size=123_456_789,
                editions=(f"{i}.0",),
                source_url="https://github.com/org/repo/tree/abc",
                run_url="https://ci.example.org/run/1",
                pr_number=None,
            )
            for i in range(builds)
        ),
        builds_total=builds,
    )


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    env = environment()
    assert env.loader is not None
    overrides = {"base.html": env.loader.get_source(env, "base.html")[0]}

    started = time.perf_counter()
    render_pages(listing(1, 1), overrides)
    first = (time.perf_counter() - started) * 1000
    print(f"first render (starts a worker): {first:.0f} ms")
    print(f"{'product':<28}{'own':>10}{'worker':>10}{'extra':>10}")
    for editions, builds in ((3, 1), (50, 100), (1000, 500)):
        found = listing(editions, builds)
        assert render_pages(found, overrides) == render_pages(found)
        own = median_ms(partial(render_pages, found), args.repeat)
        worker = median_ms(partial(render_pages, found, overrides), args.repeat)
        name = f"{editions} editions, {builds} builds"
        print(f"{name:<28}{own:>8.1f}ms{worker:>8.1f}ms{worker - own:>8.1f}ms")
    budget.stop_workers()


if __name__ == "__main__":
    main()
