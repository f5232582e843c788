"""An org's own page templates: /api/orgs/{org}/templates/{name}. Who may
change them is pinned down in tests/api/test_permissions.py."""

from __future__ import annotations

import time
from importlib.resources import files

from keeper.services.templates import MAX_TEMPLATE_BYTES
from tests.pages.conftest import (
    BASE,
    HOST,
    ORG,
    PAGES,
    Docs,
    Html,
    create_product,
)
from tests.publishing import publish, site

TEMPLATES = f"/api/orgs/{ORG}/templates"
NAMES = ["base.html", "editions.html", "builds.html", "404.html"]
MINE = (
    '{% extends "base.html" %}{% block content %}<ol id="mine">'
    "{% for e in editions %}<li>{{ e.title }}</li>{% endfor %}"
    "</ol>{% endblock %}"
)


def put(docs: Docs, name: str, source: str) -> tuple[int, dict[str, object]]:
    r = docs.client.put(f"{TEMPLATES}/{name}", headers=docs.h, json={"source": source})
    body = r.json() if r.content else {}
    return r.status_code, body


def error(body: dict[str, object]) -> str:
    detail = body["detail"]
    assert isinstance(detail, list)
    return str(detail[0]["msg"])


def test_every_template_is_listed_with_keepers_own_in_use(docs: Docs) -> None:
    r = docs.client.get(TEMPLATES)
    assert r.status_code == 200
    listed = r.json()
    assert [t["name"] for t in listed] == NAMES
    for t in listed:
        assert t["overridden"] is False and t["updated"] is None
        assert t["description"]
        assert "source" not in t  # the list stays short


def test_a_template_shows_keepers_own_source(docs: Docs) -> None:
    for name in NAMES:
        r = docs.client.get(f"{TEMPLATES}/{name}")
        assert r.status_code == 200
        shown = r.json()
        expected = files("keeper.pages").joinpath("templates", name).read_text()
        assert shown["source"] == expected, name
        assert shown["name"] == name and shown["overridden"] is False


def test_unknown_templates_and_orgs_are_not_found(docs: Docs) -> None:
    r = docs.client.get(f"{TEMPLATES}/layout.html")
    assert r.status_code == 404
    assert "editions.html" in error(r.json())  # names the templates there are
    status, _ = put(docs, "../base.html", "x")
    assert status == 404
    assert docs.client.get("/api/orgs/nope/templates").status_code == 404


def test_an_org_template_rewrites_every_products_dashboard(docs: Docs) -> None:
    create_product(docs.keeper, ORG, "other")
    publish(docs.client, BASE, docs.h, site("main"))
    publish(docs.client, f"/api/orgs/{ORG}/products/other", docs.h, site("o"))
    before = {p: {n: docs.page(n, p) for n in PAGES} for p in ("pipelines", "other")}

    status, shown = put(docs, "editions.html", MINE)
    assert status == 200, shown
    assert shown["overridden"] is True and shown["source"] == MINE
    assert shown["updated"]
    for product in ("pipelines", "other"):
        page = Html(docs.html("v/index.html", product))
        assert page.find("ol", id="mine"), product
        assert page.find("html")[0]["lang"] == "en"  # still keeper's base
        # Only the dashboard uses the template.
        for name in ("builds/index.html", "v/switcher.json"):
            assert docs.page(name, product) == before[product][name]
    listed = {t["name"]: t["overridden"] for t in docs.client.get(TEMPLATES).json()}
    assert listed == {n: n == "editions.html" for n in NAMES}
    assert docs.client.get(f"{TEMPLATES}/editions.html").json()["source"] == MINE

    # Later publishes use it too.
    publish(docs.client, BASE, docs.h, site("x"), git_ref="feature-x")
    page = Html(docs.html("v/index.html"))
    assert page.find("ol", id="mine") and "feature-x" in page.all_text()

    r = docs.client.delete(f"{TEMPLATES}/editions.html", headers=docs.h)
    assert r.status_code == 204
    assert docs.page("v/index.html", "other") == before["other"]["v/index.html"]
    assert not Html(docs.html("v/index.html")).find("ol", id="mine")
    assert docs.client.get(f"{TEMPLATES}/editions.html").json()["overridden"] is False
    # Going back twice is harmless.
    r = docs.client.delete(f"{TEMPLATES}/editions.html", headers=docs.h)
    assert r.status_code == 204


def test_a_syntax_error_is_refused_naming_template_and_line(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    before = docs.page("v/index.html")
    source = '{% extends "base.html" %}\n{% block content %}\n{% for e in editions %}\n'
    status, body = put(docs, "editions.html", source + "{% endblock %}\n")
    assert status == 422
    msg = error(body)
    assert "editions.html" in msg and "line 4" in msg, msg
    status, body = put(docs, "base.html", "<html>\n\n{{ product_title }\n</html>")
    assert status == 422
    assert "base.html, line 3" in error(body)
    # Nothing was stored, and the pages are as they were.
    assert docs.client.get(f"{TEMPLATES}/editions.html").json()["overridden"] is False
    assert docs.page("v/index.html") == before


def test_a_template_that_cannot_render_is_refused(docs: Docs) -> None:
    for name, source in [
        ("editions.html", "{{ editions[99].title }}"),  # fails on the sample
        ("404.html", "{{ nothing.at_all }}"),
        ("builds.html", "{{ builds_total // 0 }}"),
        ("editions.html", '{% extends "nope.html" %}'),
        ("base.html", '{% include "../../../etc/passwd" %}'),
        ("base.html", '{% extends "base.html" %}'),  # itself, forever
        ("editions.html", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ]:
        status, body = put(docs, name, source)
        assert status == 422, (name, source, body)
        assert error(body)
    listed = docs.client.get(TEMPLATES).json()
    assert not any(t["overridden"] for t in listed)


def test_templates_cannot_reach_python(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    status, body = put(docs, "editions.html", "{{ ''.__class__.__mro__ }}")
    assert status == 422
    assert "unsafe" in error(body)
    # What the sandbox lets through renders as nothing.
    status, _ = put(docs, "editions.html", "[{{ ''.__class__ }}{{ size.__globals__ }}]")
    if status == 200:
        assert docs.page("v/index.html") == b"[]"
    else:
        assert status == 422


def test_templates_cannot_build_huge_values(docs: Docs) -> None:
    """Every publish renders the org's templates again: one that builds a
    gigabyte string or a huge power would take keeper down each time."""
    for source in ('{{ "x" * 10**9 }}', "{{ 2 ** 100000 }}", "{{ [0] * 10**8 }}"):
        status, body = put(docs, "404.html", source)
        assert status == 422, source
        assert "template" in error(body)
    status, _ = put(docs, "404.html", '<p>{{ "ab" * 3 }}</p>')
    assert status == 200


def test_template_bodies_are_checked(docs: Docs) -> None:
    for body in ({}, {"source": ""}, {"source": 1}, {"source": "x", "extra": 1}):
        r = docs.client.put(f"{TEMPLATES}/404.html", headers=docs.h, json=body)
        assert r.status_code == 422, body
    status, body = put(docs, "404.html", "x" * (MAX_TEMPLATE_BYTES + 1))
    assert status == 422
    assert str(MAX_TEMPLATE_BYTES) in error(body)


def test_the_orgs_404_page_is_what_the_edge_answers(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    status, _ = put(docs, "404.html", "<p>Lost in {{ product_title }}</p>")
    assert status == 200
    r = docs.client.get("/v/nope/", headers={"Host": HOST})
    assert r.status_code == 404
    assert r.text == "<p>Lost in Pipelines</p>"
    r = docs.client.delete(f"{TEMPLATES}/404.html", headers=docs.h)
    assert r.status_code == 204
    r = docs.client.get("/v/nope/", headers={"Host": HOST})
    assert r.status_code == 404 and "Lost in" not in r.text
    assert "/v/" in Html(r.text).hrefs()


def test_an_org_404_page_that_fails_on_a_product_gives_keepers_own(
    docs: Docs,
) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    # Fine on the sample product, fails on this one.
    source = (
        "{% if product_title == 'Sample' %}ok{% else %}{{ nothing.at_all }}{% endif %}"
    )
    status, body = put(docs, "404.html", source)
    assert status == 200, body
    r = docs.client.get("/v/nope/", headers={"Host": HOST})
    assert r.status_code == 404
    page = Html(r.text)
    assert page.meta("ltd-page") == "platform-404"
    assert "/v/" in page.hrefs()


# -- the render budget ---------------------------------------------------------

LOOPS = (
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
)
#: The most a refused PUT may take: the budget (2 s of CPU, 5 s by the
#: clock) and a new render worker, on a machine shared with other tests.
BOUND = 30.0


def test_runaway_templates_are_refused_in_bounded_time(docs: Docs) -> None:
    """Jinja's sandbox lets these through; the render budget does not."""
    publish(docs.client, BASE, docs.h, site("main"))
    before = docs.page("v/index.html")
    # A loop spends its CPU budget, or on a busy machine its time.
    spent = ("s of CPU time", "took more than")
    for name, source, budgets in [
        ("editions.html", LOOPS, spent),
        ("404.html", "{{ '%0999999999d' % 1 }}", ("MiB of memory",)),
        (
            "base.html",
            "{% set x = [] %}{% for a in range(100000) %}"
            "{% for b in range(100000) %}{{ x.append(b) or '' }}"
            "{% endfor %}{% endfor %}",
            (*spent, "MiB of memory"),
        ),
        (
            "builds.html",
            "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}"
            "{% endif %}{% endmacro %}{{ f(0) }}",
            spent,
        ),
    ]:
        started = time.monotonic()
        r = docs.client.put(
            f"{TEMPLATES}/{name}", headers=docs.h, json={"source": source}
        )
        assert time.monotonic() - started < BOUND, name
        assert r.status_code == 422, (name, r.text)
        (detail,) = r.json()["detail"]
        assert detail["type"] == "template_over_budget", detail
        assert f"template {name} exceeds the render budget" in detail["msg"]
        assert any(b in detail["msg"] for b in budgets), detail["msg"]
    # Endless recursion is an error of its own.
    source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    status, body = put(docs, "404.html", source)
    assert status == 422 and "RecursionError" in error(body)
    # Nothing was stored, and the pages are as they were.
    assert not any(t["overridden"] for t in docs.client.get(TEMPLATES).json())
    assert docs.page("v/index.html") == before


GROWS_WITH_BUILDS = (
    '{% extends "base.html" %}{% block content %}'
    "{% for a in range(10 ** builds_total) %}"
    "{% for b in range(10 ** builds_total) %}{% endfor %}{% endfor %}"
    "<p id=org>{{ builds_total }} builds</p>{% endblock %}"
)


def test_a_template_over_budget_on_a_product_gives_keepers_pages(
    docs: Docs,
) -> None:
    """Fine on the sample product (one build), far over budget on one with
    five: its pages fall back to keeper's own, and publishing goes on."""
    create_product(docs.keeper, ORG, "small")
    publish(docs.client, f"/api/orgs/{ORG}/products/small", docs.h, site("s"))
    for n in range(5):
        publish(docs.client, BASE, docs.h, site(f"b{n}"), git_ref=f"b{n}")
    own = docs.page("builds/index.html")

    started = time.monotonic()
    status, body = put(docs, "builds.html", GROWS_WITH_BUILDS)
    assert status == 200, body
    assert time.monotonic() - started < BOUND
    assert docs.page("builds/index.html") == own
    assert Html(docs.html("builds/index.html", "small")).find("p", id="org")

    build = publish(docs.client, BASE, docs.h, site("b5"), git_ref="b5")
    page = docs.html("builds/index.html")
    assert build["id"] in page and not Html(page).find("p", id="org")


def test_a_404_template_over_budget_gives_the_edge_keepers_page(docs: Docs) -> None:
    publish(docs.client, BASE, docs.h, site("main"))
    source = "{% if product_title != 'Sample' %}" + LOOPS + "{% endif %}ORG 404"
    status, body = put(docs, "404.html", source)
    assert status == 200, body
    for _ in range(2):  # rendered once, then kept
        started = time.monotonic()
        r = docs.client.get("/v/nope/", headers={"Host": HOST})
        assert time.monotonic() - started < BOUND
        assert r.status_code == 404
        page = Html(r.text)
        assert "ORG 404" not in r.text
        assert page.meta("ltd-page") == "platform-404"
        assert "/v/" in page.hrefs()
