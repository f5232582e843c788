"""The edge contract's table of cases, run against the rendered Fastly VCL
in a model of Fastly's VCL engine (``tests/cdn/vcl_model.py``), with the
dictionary items the target computes and a stand-in S3 bucket.

What Fastly itself does around the VCL (parsing requests, its size limits,
conditional requests, ranges) has no VCL to check and is left to Fastly
(:attr:`tests.edge.cases.Case.left_to_fastly`); every other case must pass.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from keeper.domain.content_types import content_type_for
from keeper.edge.origin import Origin
from keeper.edge.redirects import REDIRECTS_FILE, Rule, parse_redirects_file
from keeper.edge.render import RenderContext, target
from keeper.edge.render.fastly import (
    BUILDS_DICTIONARY,
    EDITIONS_DICTIONARY,
    dictionary_items,
)
from keeper.edge.site import BuildView, EditionView, SiteView
from tests.cdn.vcl_model import Backend, BackendRequest, Fastly, Headers, Message
from tests.edge import demo
from tests.edge.cases import (
    CASES,
    PLATFORM_404,
    Case,
    answer_problems,
    assert_generated_pages_under_the_root,
    fill,
)

IDS = {"old": "oldb1", "main": "mainb1", "draft": "draftb1", "plain": "plainb1"}
FILES = {"old": demo.OLD, "main": demo.MAIN, "draft": demo.DRAFT, "plain": demo.PLAIN}
S3_HOST = "s3.test:9000"


def generated_pages(product: str) -> dict[str, bytes]:
    """Stand-ins for the pages keeper generates for ``product``."""
    title = product.title()
    return {
        "v/index.html": f'<meta name="ltd-page" content="editions">{title}'.encode(),
        "builds/index.html": f'<meta name="ltd-page" content="builds">{title}'.encode(),
        "v/switcher.json": b'[{"name": "latest", "version": "main", "url": "/"}]',
        "v/versions.json": b'[{"version": "main", "title": "main", "aliases": []}]',
    }


def build_view(name: str) -> BuildView:
    files = FILES[name]
    redirects: tuple[Rule, ...] = ()
    if REDIRECTS_FILE in files:
        redirects = tuple(parse_redirects_file(files[REDIRECTS_FILE].decode()))
    return BuildView(IDS[name], redirects)


def sites(root: str = "") -> list[SiteView]:
    def host(product: str) -> str:
        return demo.DOMAIN if root else f"{product}.{demo.DOMAIN}"

    return [
        SiteView(
            org=demo.ORG,
            product="demo",
            host=host("demo"),
            root=root and "/demo",
            editions={
                "__main": EditionView("__main", IDS["main"]),
                "draft": EditionView("draft", IDS["draft"], noindex=True),
            },
            builds={IDS[n]: build_view(n) for n in ("old", "main", "draft")},
            redirects=(Rule("/start", "/guide/", 302),),
            builds_prefix="demo/builds/",
            meta_prefix="demo/_meta/",
        ),
        SiteView(
            org=demo.ORG,
            product="plain",
            host=host("plain"),
            root=root and "/plain",
            editions={"__main": EditionView("__main", IDS["plain"])},
            builds={IDS["plain"]: build_view("plain")},
            builds_prefix="plain/builds/",
            meta_prefix="plain/_meta/",
        ),
    ]


def special_pages() -> dict[str, frozenset[str]]:
    return {
        IDS[name]: frozenset(
            p.removesuffix("index.html")
            for p in files
            if p == "404.html" or p == "index.html" or p.endswith("/index.html")
        )
        for name, files in FILES.items()
    }


def objects() -> dict[str, bytes]:
    found = {}
    for name, files in FILES.items():
        product = "plain" if name == "plain" else "demo"
        for path, data in files.items():
            found[f"/bkt/sites/{product}/builds/{IDS[name]}/{path}"] = data
    for product in ("demo", "plain"):
        for page, data in generated_pages(product).items():
            found[f"/bkt/sites/{product}/_meta/{page}"] = data
    return found


def s3(store: dict[str, bytes]) -> Backend:
    def answer(request: BackendRequest) -> Message:
        assert request.headers.get("Host") == S3_HOST
        assert request.headers.get("Cookie") is None
        key = unquote(urlsplit(request.url).path)
        data = store.get(key)
        if data is None:
            return Message(
                404,
                "Not Found",
                Headers({"Content-Type": "application/xml"}),
                b"<Error><Code>NoSuchKey</Code></Error>",
            )
        return Message(
            200,
            "OK",
            Headers(
                {
                    "Content-Type": content_type_for(key),
                    "Content-Length": str(len(data)),
                    "ETag": '"' + hashlib.md5(data).hexdigest() + '"',
                    "x-amz-request-id": "TESTREQUEST",
                }
            ),
            data,
        )

    return answer


def edge(tmp_path: Path, root: str = "", *, empty_is_unset: bool = False) -> Fastly:
    ctx = RenderContext(
        org=demo.ORG,
        sites=sites(root),
        pages=special_pages(),
        origin=Origin(
            kind="s3", endpoint=f"http://{S3_HOST}", bucket="bkt", prefix="sites/"
        ),
        listen_host="0.0.0.0",
        listen_port=80,
        out_dir=tmp_path,
    )
    vcl = target("fastly").render(ctx)["fastly.vcl"]
    items = dictionary_items(ctx)
    return Fastly(
        vcl,
        {EDITIONS_DICTIONARY: items.editions, BUILDS_DICTIONARY: items.builds},
        s3(objects()),
        empty_is_unset=empty_is_unset,
    )


@pytest.fixture(
    scope="module", params=[False, True], ids=["empty-header", "empty-unsets"]
)
def fastly(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Fastly:
    return edge(tmp_path_factory.mktemp("fastly"), empty_is_unset=request.param)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.left_to_fastly is None], ids=lambda c: c.name
)
def test_the_vcl_answers_every_case(fastly: Fastly, case: Case) -> None:
    assert case.host is not None and not case.extra_headers
    headers = {
        "Host": case.host,
        **{k: fill(v, IDS) for k, v in case.request_headers.items()},
    }
    answer = fastly.request(case.method, fill(case.path, IDS), headers)
    assert answer.status == case.expected_status("fastly")
    assert answer_problems(case, answer, IDS) == []  # type: ignore[arg-type]


def test_what_a_reader_sends_cannot_steer_it(fastly: Fastly) -> None:
    answer = fastly.request(
        "GET",
        "/page.html",
        {"Host": demo.HOST, "LTD-Build": IDS["old"], "LTD-Step": "pin"},
    )
    assert answer.status == 200
    assert b"MAIN page" in answer.body


def test_the_answer_keeps_no_internal_or_s3_headers(fastly: Fastly) -> None:
    answer = fastly.request("GET", "/page.html", {"Host": demo.HOST})
    names = {name.lower() for name, _ in answer.headers.fields}
    assert not {n for n in names if n.startswith(("ltd-", "x-amz-"))}


def test_a_pinned_asset_costs_at_most_three_restarts(fastly: Fastly) -> None:
    # Pinned build, current build, directory probe, 404 page: four objects.
    fastly.fetched.clear()
    answer = fastly.request(
        "GET",
        "/nope/x.js",
        {"Host": demo.HOST, "Cookie": f"ltd-pin=__main~{IDS['old']}"},
    )
    assert answer.status == 404
    assert b"MAIN not-found page" in answer.body
    assert [u.rsplit("/builds/", 1)[1] for u in fastly.fetched] == [
        f"{IDS['old']}/nope/x.js",
        f"{IDS['main']}/nope/x.js",
        f"{IDS['main']}/nope/x.js/index.html",
        f"{IDS['main']}/404.html",
    ]


def test_the_path_layout(tmp_path: Path) -> None:
    fastly = edge(tmp_path, root="/demo")
    host = {"Host": demo.DOMAIN}
    page = fastly.request("GET", "/demo/page.html", host)
    assert (page.status, b"MAIN page" in page.body) == (200, True)
    cookie = page.headers.get("Set-Cookie") or ""
    assert cookie.startswith(f"ltd-pin=__main~{IDS['main']}; Path=/demo/;")
    draft = fastly.request("GET", "/demo/v/draft/", host)
    assert b"DRAFT index" in draft.body
    assert fastly.request("GET", "/demo", host).headers.get("Location") == "/demo/"
    moved = fastly.request("GET", "/demo/old.html", host)
    assert moved.headers.get("Location") == "/demo/page.html"
    gone = fastly.request("GET", "/demo/v/nope/", host)
    assert gone.status == 404
    assert b'href="/demo/v/"' in gone.body
    other = fastly.request("GET", "/plain/secret.html", host)
    assert b"SECRET" in other.body  # plain's own page, on plain's root
    unknown = fastly.request("GET", "/nothing/", host)
    assert unknown.status == 404
    assert_generated_pages_under_the_root(
        lambda path: fastly.request("GET", path, host),  # type: ignore[arg-type,return-value]
        key="docs/demo",
    )


def test_rules_missing_from_the_uploaded_vcl_are_flagged(tmp_path: Path) -> None:
    fastly = edge(tmp_path)
    main_key = f"{demo.HOST}/{IDS['main']}"
    builds = dict(fastly.tables[BUILDS_DICTIONARY])
    builds[main_key] = "complete has-404 rules=r000000000000"
    fastly.tables = {**fastly.tables, BUILDS_DICTIONARY: builds}
    answer = fastly.request("GET", "/old.html", {"Host": demo.HOST})
    assert answer.status == 404  # served without the rule that moved it
    assert "r000000000000" in (answer.headers.get("LTD-Warning") or "")


def test_a_path_that_is_not_utf8_is_refused(fastly: Fastly) -> None:
    answer = fastly.request("GET", "/%ff.html", {"Host": demo.HOST})
    assert answer.status == 400
    valid = fastly.request("GET", "/r%C3%A9sum%C3%A9.html", {"Host": demo.HOST})
    assert valid.status == 404


def test_a_generated_page_is_one_object_tagged_with_the_product(
    fastly: Fastly,
) -> None:
    fastly.fetched.clear()
    answer = fastly.request("GET", "/builds/", {"Host": demo.HOST})
    assert answer.status == 200
    assert fastly.fetched == ["/bkt/sites/demo/_meta/builds/index.html"]
    assert answer.headers.get("X-Robots-Tag") == "noindex"
    assert answer.headers.get("Surrogate-Key") == "docs/demo"


def test_a_generated_page_not_written_yet_is_the_platform_page(
    tmp_path: Path,
) -> None:
    fastly = edge(tmp_path)
    fastly.backend = s3(
        {k: v for k, v in objects().items() if not k.endswith("switcher.json")}
    )
    answer = fastly.request("GET", "/v/switcher.json", {"Host": demo.HOST})
    assert answer.status == 404
    assert PLATFORM_404.encode() in answer.body
    assert answer.headers.get("Surrogate-Key") == "docs/demo"
    assert answer.headers.get("Cache-Control") == "no-cache"
    # A site item written before keeper generated pages has no meta prefix.
    items = dict(fastly.tables[EDITIONS_DICTIONARY])
    items[demo.HOST] = items[demo.HOST].replace(" meta=demo/_meta/", "")
    fastly.tables = {**fastly.tables, EDITIONS_DICTIONARY: items}
    fastly.backend = s3(objects())
    assert fastly.request("GET", "/v/", {"Host": demo.HOST}).status == 404
