"""The Fastly edge: the API client against a stand-in for Fastly's API, the
dictionaries and VCL the target renders, and a publish on a real keeper
reaching Fastly as dictionary updates and purges."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tenacity import wait_random_exponential
from tenacity.wait import wait_base

from keeper.cdn.fastly import (
    TOKEN_ENV,
    FastlyClient,
    FastlyError,
    ItemOp,
    diff_items,
)
from keeper.edge import rules
from keeper.edge.origin import Origin
from keeper.edge.redirects import Rule
from keeper.edge.render import RenderContext, target
from keeper.edge.render.fastly import (
    BUILDS_DICTIONARY,
    EDITIONS_DICTIONARY,
    FastlySetupError,
    dictionary_items,
)
from keeper.edge.site import BuildView, EditionView, SiteView
from tests.cdn.fastly_api import FastlyStandin, fastly_standin
from tests.edge.demo import demo_keeper
from tests.servers import S3Endpoint

TOKEN = "fastly-test-token"
SERVICE = "SVC"
EDITIONS = "DICT-EDITIONS"
BUILDS = "DICT-BUILDS"


def quick() -> wait_base:
    return wait_random_exponential(multiplier=0.01, max=0.05)


@pytest.fixture
def standin() -> Iterator[FastlyStandin]:
    with fastly_standin(TOKEN, SERVICE, (EDITIONS, BUILDS)) as running:
        yield running


@pytest.fixture
def client(standin: FastlyStandin) -> Iterator[FastlyClient]:
    with FastlyClient(TOKEN, api_url=standin.url, wait=quick()) as made:
        yield made


# -- the client ---------------------------------------------------------------


def test_diff_upserts_new_and_changed_items_and_deletes_the_rest() -> None:
    live = {"a": "1", "b": "2", "gone": "x"}
    wanted = {"a": "1", "b": "3", "new": "4"}
    assert diff_items(live, wanted) == [
        ItemOp("upsert", "b", "3"),
        ItemOp("upsert", "new", "4"),
        ItemOp("delete", "gone"),
    ]
    assert diff_items(wanted, wanted) == []


def test_a_large_update_goes_in_batches_of_1000_and_lists_back_page_by_page(
    standin: FastlyStandin, client: FastlyClient
) -> None:
    wanted = {f"host/{n:05d}": f"build={n}" for n in range(2500)}
    ops = diff_items({}, wanted)

    assert client.update_items(SERVICE, BUILDS, ops) == 3
    patches = standin.seen("PATCH", "items")
    assert [len(r.ops) for r in patches] == [1000, 1000, 500]
    assert patches[0].ops[0] == {
        "op": "upsert",
        "item_key": "host/00000",
        "item_value": "build=0",
    }
    assert all(r.headers["fastly-key"] == TOKEN for r in patches)

    standin.clear()
    assert client.list_items(SERVICE, BUILDS, per_page=100) == wanted
    pages = standin.seen("GET", "items")
    assert [r.query["page"] for r in pages] == [str(n) for n in range(1, 26)]
    assert {r.query["per_page"] for r in pages} == {"100"}

    standin.clear()
    deletes = diff_items(wanted, {"host/00001": "build=1"})
    client.update_items(SERVICE, BUILDS, deletes)
    assert client.list_items(SERVICE, BUILDS) == {"host/00001": "build=1"}
    assert standin.problems == []


def test_an_empty_update_sends_nothing(
    standin: FastlyStandin, client: FastlyClient
) -> None:
    assert client.update_items(SERVICE, BUILDS, []) == 0
    assert client.list_items(SERVICE, BUILDS) == {}
    assert standin.seen("PATCH") == []


def test_purges_send_at_most_256_keys_a_request(
    standin: FastlyStandin, client: FastlyClient
) -> None:
    keys = [f"docs/p{n}" for n in range(600)] + ["docs/p0"]  # one repeated
    assert client.purge_keys(SERVICE, keys) == 3
    purges = standin.seen("POST", "purge")
    assert [len(r.keys) for r in purges] == [256, 256, 88]
    assert [k for r in purges for k in r.keys] == keys[:600]
    assert all("fastly-soft-purge" not in r.headers for r in purges)

    standin.clear()
    client.purge_keys(SERVICE, ["docs/demo"], soft=True)
    (soft,) = standin.seen("POST", "purge")
    assert soft.headers["fastly-soft-purge"] == "1"
    assert soft.path == f"/service/{SERVICE}/purge"
    assert standin.problems == []


def test_a_503_is_retried(standin: FastlyStandin, client: FastlyClient) -> None:
    standin.fail_next(503)
    client.update_items(SERVICE, EDITIONS, [ItemOp("upsert", "k", "v")])
    assert [r.method for r in standin.seen()] == ["PATCH", "PATCH"]
    assert client.list_items(SERVICE, EDITIONS) == {"k": "v"}


def test_a_429_waits_as_long_as_retry_after_says(
    standin: FastlyStandin, client: FastlyClient
) -> None:
    standin.fail_next(429, headers={"Retry-After": "1"}, msg="rate limited")
    started = time.monotonic()
    client.purge_keys(SERVICE, ["docs/demo"])
    assert time.monotonic() - started >= 0.9
    assert len(standin.seen("POST", "purge")) == 2


def test_retries_end_with_fastlys_message(standin: FastlyStandin) -> None:
    standin.fail_next(503, count=3, msg="backend overloaded")
    with (
        FastlyClient(TOKEN, api_url=standin.url, attempts=3, wait=quick()) as client,
        pytest.raises(FastlyError, match="503: backend overloaded") as caught,
    ):
        client.list_items(SERVICE, EDITIONS)
    assert caught.value.status == 503
    assert len(standin.seen()) == 3


def test_a_refused_token_is_a_clear_error_without_the_token(
    standin: FastlyStandin,
) -> None:
    with (
        FastlyClient("wrong-token-value", api_url=standin.url) as client,
        pytest.raises(FastlyError) as caught,
    ):
        client.list_items(SERVICE, EDITIONS)
    assert caught.value.status == 401
    message = str(caught.value)
    assert "Provided credentials are missing or invalid" in message
    assert TOKEN_ENV in message
    assert "wrong-token-value" not in message
    assert len(standin.seen()) == 1  # a 4xx is not retried


def test_an_unknown_dictionary_is_a_clear_error(client: FastlyClient) -> None:
    with pytest.raises(FastlyError, match="Record not found") as caught:
        client.update_items(SERVICE, "NOPE", [ItemOp("upsert", "k", "v")])
    assert caught.value.status == 404
    assert "dictionary ids" in str(caught.value)


def test_an_unreachable_api_is_a_clear_error() -> None:
    with (
        FastlyClient(
            TOKEN, api_url="http://127.0.0.1:9", attempts=2, wait=quick()
        ) as client,
        pytest.raises(FastlyError, match="cannot reach Fastly's API"),
    ):
        client.purge_keys(SERVICE, ["docs/demo"])


def test_the_token_comes_from_the_environment() -> None:
    with pytest.raises(FastlyError, match=TOKEN_ENV):
        FastlyClient.from_env(environ={})
    with FastlyClient.from_env(environ={TOKEN_ENV: "t"}) as client:
        assert client.api_url == "https://api.fastly.com"


def test_items_fastly_would_refuse_are_caught_before_sending(
    standin: FastlyStandin, client: FastlyClient
) -> None:
    with pytest.raises(FastlyError, match="256"):
        client.update_items(SERVICE, EDITIONS, [ItemOp("upsert", "k" * 257, "v")])
    with pytest.raises(FastlyError, match="8000"):
        client.update_items(SERVICE, EDITIONS, [ItemOp("upsert", "k", "v" * 8001)])
    with pytest.raises(FastlyError, match="surrogate key"):
        client.purge_keys(SERVICE, ["two words"])
    assert standin.seen() == []


# -- the target, on sites built by hand -----------------------------------------

MAIN_RULES = (
    Rule("/old.html", "/page.html"),
    Rule("/moved/*", "/guide/:splat", 302),
    Rule("/ext", "https://example.org/x", 302),
)


def demo_site(
    editions: dict[str, str | None] | None = None, *, root: str = ""
) -> SiteView:
    editions = {"__main": "bmain", "draft": "bdraft"} if editions is None else editions
    return SiteView(
        org="docs",
        product="demo",
        host="demo.docs.test" if not root else "docs.test",
        root=root,
        editions={
            slug: EditionView(slug, build, noindex=slug == "draft")
            for slug, build in editions.items()
        },
        builds={
            "bold": BuildView("bold"),
            "bmain": BuildView("bmain", MAIN_RULES),
            "bdraft": BuildView("bdraft"),
        },
        redirects=(Rule("/start", "/guide/", 302),),
        builds_prefix="demo/builds/",
        meta_prefix="demo/_meta/",
    )


def s3_origin() -> Origin:
    return Origin(
        kind="s3", endpoint="https://s3.example.test", bucket="docs", prefix="org/"
    )


def context(
    sites: list[SiteView],
    tmp_path: Path,
    settings: dict[str, str] | None = None,
    origin: Origin | None = None,
) -> RenderContext:
    return RenderContext(
        org="docs",
        sites=sites,
        pages={"bmain": frozenset({"404.html", "", "guide/"})},
        origin=origin or s3_origin(),
        listen_host="0.0.0.0",
        listen_port=80,
        out_dir=tmp_path,
        settings=settings or {},
    )


def fastly_settings(url: str) -> dict[str, str]:
    return {
        "service_id": SERVICE,
        "dictionary_id": EDITIONS,
        "builds_dictionary_id": BUILDS,
        "api_url": url,
    }


def test_the_dictionaries_say_which_build_each_edition_shows(tmp_path: Path) -> None:
    items = dictionary_items(context([demo_site()], tmp_path))
    assert items.editions == {
        "demo.docs.test": (
            "key=docs/demo prefix=demo/builds/ meta=demo/_meta/ rules=rb812ca3c9e52"
        ),
        "demo.docs.test/__main": "build=bmain",
        "demo.docs.test/draft": "build=bdraft noindex",
    }
    main_rules = items.builds["demo.docs.test/bmain"]
    assert re.fullmatch(r"complete has-404 rules=r[0-9a-f]{12}", main_rules)
    assert items.builds["demo.docs.test/bold"] == "complete"
    # The path layout names a site by its base domain and product root.
    path_items = dictionary_items(context([demo_site(root="/demo")], tmp_path))
    assert "docs.test/demo/__main" in path_items.editions
    assert "docs.test/demo/bold" in path_items.builds
    # An edition with nothing published has no item: the platform's 404.
    empty = dictionary_items(context([demo_site({"__main": None})], tmp_path))
    assert "demo.docs.test/__main" not in empty.editions


def test_the_vcl_reads_the_dictionaries_and_compiles_every_rule_set(
    tmp_path: Path,
) -> None:
    files = target("fastly").render(context([demo_site()], tmp_path))
    vcl = files["fastly.vcl"]
    assert set(files) == {"fastly.vcl", "dictionaries.json"}
    assert json.loads(files["dictionaries.json"]) == {
        EDITIONS_DICTIONARY: dictionary_items(
            context([demo_site()], tmp_path)
        ).editions,
        BUILDS_DICTIONARY: dictionary_items(context([demo_site()], tmp_path)).builds,
    }
    assert "table.lookup(ltd_editions," in vcl
    assert "table.lookup(ltd_builds," in vcl
    for macro in ("recv", "hash", "hit", "miss", "pass", "fetch", "error", "deliver"):
        assert f"#FASTLY {macro}\n" in vcl
        assert f"sub vcl_{macro} {{" in vcl
    # One block per rule set: the product's and main's _redirects.
    for fingerprint in set(
        re.findall(r"rules=(r[0-9a-f]{12})", files["dictionaries.json"])
    ):
        assert f'req.http.LTD-Match-Rules == "{fingerprint}"' in vcl
    assert '{"^/moved(?:/(.*))?$"}' in vcl
    assert '{"/guide/"} + req.http.LTD-Splat' in vcl
    # The contract's constants, written as they are in rules.py.
    assert "{" + f'"{rules.BAD_RAW_PATH}"' + "}" in vcl
    assert rules.IMMUTABLE in vcl and rules.PIN_COOKIE in vcl
    # Objects come from the org's prefix of the bucket, path-style.
    assert 'set req.url = {"/docs/org/"} + req.http.LTD-Prefix' in vcl
    assert 'set bereq.http.Host = "s3.example.test";' in vcl
    # How to install it, at the top.
    head = vcl.split("sub ltd_rules", 1)[0]
    for word in ("custom VCL", "ltd_editions", "ltd_builds", "backend", "Surrogate"):
        assert word in head


def test_the_vcl_is_well_formed(tmp_path: Path) -> None:
    vcl = target("fastly").render(context([demo_site()], tmp_path))["fastly.vcl"]
    code = strip_vcl_strings(vcl)
    assert code.count("{") == code.count("}")
    depth = 0
    for char in code:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    # Every regular expression compiles (Python's re is close to PCRE for
    # what the VCL uses).
    for expression in re.findall(r'~ \{"(.*?)"\}', vcl) + re.findall(
        r'~ "([^"]*)"', vcl
    ):
        re.compile(expression)
    # Internal headers a reader sends are dropped before any decision.
    used = set(re.findall(r"req\.http\.(LTD-[A-Za-z-]+)", vcl))
    cleared = set(re.findall(r"unset req\.http\.(LTD-[A-Za-z-]+);", vcl))
    assert used <= cleared
    # Fastly allows three restarts; the chain needs no more.
    assert "req.restarts < 3" in vcl


def strip_vcl_strings(vcl: str) -> str:
    """The VCL without comments and string literals (long ones first)."""
    out = re.sub(r'\{([A-Za-z]*)".*?"\1\}', '""', vcl, flags=re.DOTALL)
    out = re.sub(r'"[^"\n]*"', '""', out)
    return re.sub(r"(?m)^\s*#(?!FASTLY).*$", "", out)


def test_rendering_needs_an_s3_origin(tmp_path: Path) -> None:
    origin = Origin(kind="filesystem", root=tmp_path)
    with pytest.raises(FastlySetupError, match="Fastly needs an S3 origin"):
        target("fastly").render(context([demo_site()], tmp_path, origin=origin))


def test_the_token_is_never_an_option(tmp_path: Path) -> None:
    for name in ("token", "api_token", "fastly_key"):
        ctx = context([demo_site()], tmp_path, {name: "secret"})
        with pytest.raises(FastlySetupError, match=TOKEN_ENV):
            target("fastly").render(ctx)
    with pytest.raises(FastlySetupError, match="unknown Fastly option 'service'"):
        target("fastly").render(context([demo_site()], tmp_path, {"service": "x"}))


def test_activating_names_what_is_missing(
    tmp_path: Path, standin: FastlyStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    fastly = target("fastly")
    ctx = context([demo_site()], tmp_path, {"service_id": SERVICE})
    with pytest.raises(FastlySetupError) as caught:
        fastly.activate(ctx, [])
    assert "dictionary_id" in str(caught.value)
    assert "builds_dictionary_id" in str(caught.value)

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    ctx = context([demo_site()], tmp_path, fastly_settings(standin.url))
    with pytest.raises(FastlyError, match=TOKEN_ENV):
        fastly.activate(ctx, [])
    assert standin.seen() == []

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    too_small = {**fastly_settings(standin.url), "max_items": "2"}
    with pytest.raises(FastlySetupError, match="max_items"):
        fastly.activate(context([demo_site()], tmp_path, too_small), [])


def activate(
    standin: FastlyStandin,
    tmp_path: Path,
    sites: list[SiteView],
    changed: Callable[[list[SiteView]], list[SiteView]] = lambda s: s,
    **settings: str,
) -> None:
    ctx = context(sites, tmp_path, {**fastly_settings(standin.url), **settings})
    target("fastly").activate(ctx, changed(sites))


def test_a_publish_updates_items_in_one_batch_each_and_purges(
    tmp_path: Path, standin: FastlyStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    site = demo_site()
    activate(standin, tmp_path, [site])
    items = dictionary_items(context([site], tmp_path))
    assert standin.dictionaries == {EDITIONS: items.editions, BUILDS: items.builds}
    # Builds first: an edition never points at a build the VCL cannot see.
    patches = standin.seen("PATCH")
    assert [r.path.rsplit("/", 2)[-2] for r in patches] == [BUILDS, EDITIONS]
    (purge,) = standin.seen("POST", "purge")
    assert purge.keys == ["docs/demo", "docs/demo/v/__main", "docs/demo/v/draft"]

    # Nothing changed: no item operations, the purge still goes out.
    standin.clear()
    activate(standin, tmp_path, [site])
    assert standin.seen("PATCH") == []
    assert len(standin.seen("POST", "purge")) == 1

    # Re-pointing draft changes one item and nothing else.
    standin.clear()
    activate(standin, tmp_path, [demo_site({"__main": "bmain", "draft": "bold"})])
    (patch,) = standin.seen("PATCH")
    assert patch.ops == [
        {
            "op": "upsert",
            "item_key": "demo.docs.test/draft",
            "item_value": "build=bold noindex",
        }
    ]

    # A deleted edition deletes its item and purges its key.
    standin.clear()
    activate(standin, tmp_path, [demo_site({"__main": "bmain"})])
    (patch,) = standin.seen("PATCH")
    assert patch.ops == [{"op": "delete", "item_key": "demo.docs.test/draft"}]
    (purge,) = standin.seen("POST", "purge")
    assert purge.keys == ["docs/demo", "docs/demo/v/__main", "docs/demo/v/draft"]

    # A deleted product: its items go, its key is purged, soft if asked.
    standin.clear()
    activate(standin, tmp_path, [], soft_purge="true")
    assert standin.dictionaries == {EDITIONS: {}, BUILDS: {}}
    (purge,) = standin.seen("POST", "purge")
    assert purge.keys == ["docs/demo", "docs/demo/v/__main"]
    assert purge.headers["fastly-soft-purge"] == "1"
    assert standin.problems == []


def test_a_failing_fastly_fails_the_activation(
    tmp_path: Path, standin: FastlyStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    with pytest.raises(FastlyError, match="refused the token"):
        activate(standin, tmp_path, [demo_site()])


# -- end to end: a served keeper publishing through the stand-in ----------------


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.s3server
def test_publishing_on_keeper_updates_fastly(
    tmp_path: Path, moto_s3: S3Endpoint, standin: FastlyStandin
) -> None:
    bucket = moto_s3.new_bucket()
    env = {**moto_s3.keeper_env(bucket), TOKEN_ENV: TOKEN}
    out = tmp_path / "fastly"
    with demo_keeper(tmp_path / "keeper", env) as demo:
        rendered = demo.keeper_cli(
            "edge",
            "render",
            "--target",
            "fastly",
            "--org",
            "docs",
            "--listen",
            "0.0.0.0:80",
            "--out",
            str(out),
            "--option",
            f"api_url={standin.url}",
            "--option",
            f"service_id={SERVICE}",
            "--option",
            f"dictionary_id={EDITIONS}",
            "--option",
            f"builds_dictionary_id={BUILDS}",
        )
        assert rendered.returncode == 0, rendered.stderr
        assert "upload" in rendered.stdout and "fastly.vcl" in rendered.stdout
        vcl = (out / "fastly.vcl").read_text()
        assert "ltd_editions" in vcl and "ltd_builds" in vcl
        assert f"/{bucket}/sites/" in vcl
        for secret in (TOKEN, moto_s3.secret_key, moto_s3.access_key):
            assert secret not in vcl
            assert secret not in (out / "dictionaries.json").read_text()
        assert standin.seen() == []  # rendering never calls Fastly

        # A publish: keeper (the served process) re-points draft, upserts
        # its item and purges the demo product's keys.
        demo.point("draft", demo.ids["old"])
        draft_key = "demo.docs.test/draft"
        wait_for(lambda: bool(standin.seen("POST", "purge")), "the purge")
        editions = standin.dictionaries[EDITIONS]
        assert editions[draft_key] == f"build={demo.ids['old']} noindex"
        assert editions["demo.docs.test/__main"] == f"build={demo.ids['main']}"
        on_disk = json.loads((out / "dictionaries.json").read_text())
        assert standin.dictionaries == {
            EDITIONS: on_disk[EDITIONS_DICTIONARY],
            BUILDS: on_disk[BUILDS_DICTIONARY],
        }
        assert set(standin.dictionaries[BUILDS]) == {
            f"demo.docs.test/{demo.ids['old']}",
            f"demo.docs.test/{demo.ids['main']}",
            f"demo.docs.test/{demo.ids['draft']}",
            f"plain.docs.test/{demo.ids['plain']}",
        }
        assert (
            "has-404"
            in standin.dictionaries[BUILDS][f"demo.docs.test/{demo.ids['main']}"]
        )
        (purge,) = standin.seen("POST", "purge")
        assert purge.keys == ["docs/demo", "docs/demo/v/__main", "docs/demo/v/draft"]
        assert purge.headers["fastly-key"] == TOKEN

        # A change readers do not see in the dictionaries: no item ops.
        standin.clear()
        response = demo.keeper.client.patch(
            "/api/orgs/docs/products/demo",
            headers=demo.keeper.auth(),
            json={"title": "Demo docs"},
        )
        assert response.status_code == 200, response.text
        wait_for(lambda: bool(standin.seen("POST", "purge")), "the second purge")
        assert standin.seen("PATCH") == []

        # A deleted edition deletes its item.
        standin.clear()
        response = demo.keeper.client.delete(
            "/api/orgs/docs/products/demo/editions/draft", headers=demo.keeper.auth()
        )
        assert response.status_code == 204, response.text
        wait_for(lambda: bool(standin.seen("POST", "purge")), "the third purge")
        (patch,) = standin.seen("PATCH")
        assert patch.ops == [{"op": "delete", "item_key": draft_key}]
        assert draft_key not in standin.dictionaries[EDITIONS]
        assert "docs/demo/v/draft" in standin.seen("POST", "purge")[0].keys
    assert standin.problems == []


def test_new_rule_sets_after_the_first_fill_ask_for_an_upload(
    tmp_path: Path,
    standin: FastlyStandin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    site = demo_site()
    activate(standin, tmp_path, [site])
    assert "upload" not in caplog.text  # the first fill follows an upload
    moved = BuildView("bnew", (Rule("/a", "/b"),))
    site = dataclasses.replace(site, builds={**site.builds, "bnew": moved})
    activate(standin, tmp_path, [site])
    assert "upload the rendered fastly.vcl again" in caplog.text
