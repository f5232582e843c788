"""An org's own page templates reach every edge: the pages keeper writes to
the store, the built-in edge's 404 page and the files of a rendered edge."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from keeper.edge.render.fastly import platform_page_expression
from tests.edge.cases import send
from tests.edge.demo import PATH_DOMAIN, populate_path_layout
from tests.served import keeper_binary, served_keeper

NOT_FOUND = (
    '{% extends "base.html" %}{% block page_kind %}platform-404{% endblock %}'
    "{% block content %}<p>ORG 404 for {{ product_title }}</p>{% endblock %}"
)
BASE = (
    '<!doctype html><html lang="en"><head><meta name="ltd-page" '
    'content="{% block page_kind %}{% endblock %}"><title>ORG LOOK</title></head>'
    "<body><main>{% block content %}{% endblock %}</main></body></html>"
)


def test_org_templates_reach_every_edge(tmp_path: Path) -> None:
    with served_keeper(tmp_path) as keeper:
        populate_path_layout(keeper)
        client, auth = keeper.client, keeper.auth()
        url = urlsplit(keeper.url)
        address = (url.hostname or "", url.port or 0)
        nginx_dir = tmp_path / "nginx"
        subprocess.run(
            [
                keeper_binary(),
                "edge",
                "render",
                "--target",
                "nginx",
                "--org",
                "paths",
                "--listen",
                "127.0.0.1:1",
                "--out",
                str(nginx_dir),
            ],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        rendered_404 = nginx_dir / "platform" / "demo.html"
        assert "ORG 404" not in rendered_404.read_text()

        for name, source in (("base.html", BASE), ("404.html", NOT_FOUND)):
            response = client.put(
                f"/api/orgs/paths/templates/{name}",
                headers=auth,
                json={"source": source},
            )
            assert response.status_code == 200, response.text

        # The dashboard keeper wrote to the store uses the org's layout...
        dashboard = send(address, "GET", "/demo/v/", PATH_DOMAIN)
        assert dashboard.status == 200
        assert b"<title>ORG LOOK</title>" in dashboard.body
        assert b'content="editions"' in dashboard.body
        # ...the built-in edge's 404 page uses its 404 template...
        missing = send(address, "GET", "/demo/v/nope/", PATH_DOMAIN)
        assert missing.status == 404
        assert b"ORG 404 for Demo" in missing.body
        # ...and so does the rendered nginx edge, rewritten on the change.
        assert "ORG 404 for Demo" in rendered_404.read_text()

        response = client.delete("/api/orgs/paths/templates/404.html", headers=auth)
        assert response.status_code == 204
        missing = send(address, "GET", "/demo/v/nope/", PATH_DOMAIN)
        assert b"ORG 404" not in missing.body
        assert "ORG 404" not in rendered_404.read_text()


def test_fastly_fills_the_product_into_the_orgs_404_page() -> None:
    expression = platform_page_expression("Paths", {"404.html": NOT_FOUND})
    assert "ORG 404 for " in expression
    assert "req.http.LTD-Product" in expression
