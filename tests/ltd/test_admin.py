"""`ltd orgs|products|editions|builds|tokens` against a real `keeper serve`.

Each test works in an org of its own on the module's one keeper, runs the
commands as a person or script would (click's runner, the environment
variables CI sets) and checks their effect through keeper's API.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from ltd.admin import register
from ltd.admin.output import Column, emit_list, emit_record
from tests.conftest import BOOTSTRAP
from tests.publishing import publish, site, upload
from tests.publishing import register as register_build
from tests.served import ServedKeeper
from tests.servers import free_port

#: Variables of the machine running the tests that would change what the
#: commands do; each test sets what it is about.
_CLEARED = ("LTD_HOST", "LTD_TOKEN", "LTD_ORG", "LTD_PRODUCT")


class Ltd:
    """Runs `ltd …` in-process against the served keeper."""

    def __init__(self, keeper: ServedKeeper) -> None:
        self.keeper = keeper
        self.group = click.Group("ltd")
        register(self.group)

    def __call__(
        self, *args: str, input: str | None = None, **env: str | None
    ) -> Result:
        environ: dict[str, str | None] = {name: None for name in _CLEARED}
        environ |= {"LTD_HOST": self.keeper.url, "LTD_TOKEN": BOOTSTRAP, **env}
        return CliRunner().invoke(self.group, list(args), input=input, env=environ)

    def ok(self, *args: str, **env: str | None) -> Result:
        result = self(*args, **env)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, *args: str, **env: str | None) -> Any:
        return json.loads(self.ok(*args, "--json", **env).stdout)

    def api(self, path: str) -> httpx.Response:
        return self.keeper.client.get(f"/api{path}")


@pytest.fixture
def ltd(keeper_server: ServedKeeper) -> Ltd:
    return Ltd(keeper_server)


def new_org(ltd: Ltd) -> str:
    """An org of the test's own, on a base domain of its own (a domain is
    one org's)."""
    slug = f"o{uuid.uuid4().hex[:10]}"
    ltd.ok(
        "orgs",
        "create",
        "--slug",
        slug,
        "--title",
        "Test",
        "--base-domain",
        domain(slug),
    )
    return slug


def domain(org: str) -> str:
    return f"{org}.test"


def new_product(ltd: Ltd, org: str, slug: str = "docs") -> str:
    ltd.ok("products", "create", "--org", org, "--slug", slug, "--title", "Docs")
    return slug


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


def record(result: Result) -> dict[str, str]:
    """A plain ``show`` output read back: one ``field  value`` per line."""
    pairs = (line.split(maxsplit=1) for line in lines(result))
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


# -- organizations ----------------------------------------------------------


def test_orgs_create_list_show_update(ltd: Ltd) -> None:
    org = new_org(ltd)
    assert ltd.api(f"/orgs/{org}").json()["base_domain"] == domain(org)

    table = ltd.ok("orgs", "list")
    header = lines(table)[0]
    assert header.split()[:2] == ["SLUG", "TITLE"]
    # Piped output is plain text: no box drawing, no colour codes.
    assert not set(table.stdout) & set("│─┃━\x1b")
    assert any(line.split()[0] == org for line in lines(table)[1:])

    listed = ltd.json("orgs", "list")
    assert org in [o["slug"] for o in listed]
    assert ltd.json("orgs", "show", org) == ltd.api(f"/orgs/{org}").json()

    shown = record(ltd.ok("orgs", "show", org))
    assert (shown["slug"], shown["base_domain"]) == (org, domain(org))
    assert shown["storage_url"] == "-"  # null

    ltd.ok(
        "orgs",
        "update",
        org,
        "--base-domain",
        f"docs.{org}.example.org",
        "--url-layout",
        "path",
        "--site-scheme",
        "http",
        "--site-port",
        "8000",
        "--cdn-setting",
        "service_id=abc",
        "--cdn-setting",
        "ttl:=300",
    )
    body = ltd.api(f"/orgs/{org}").json()
    assert body["base_domain"] == f"docs.{org}.example.org"
    assert body["url_layout"] == "path"
    assert (body["site_scheme"], body["site_port"]) == ("http", 8000)
    assert body["cdn_settings"] == {"service_id": "abc", "ttl": 300}
    assert body["title"] == "Test"  # left out, so unchanged


def test_update_with_nothing_to_change_is_a_usage_error(ltd: Ltd) -> None:
    org = new_org(ltd)
    result = ltd("orgs", "update", org)
    assert result.exit_code == 2
    assert "nothing to change" in result.stderr


# -- products ---------------------------------------------------------------


def test_products_create_list_update_and_clear_a_field(ltd: Ltd) -> None:
    org = new_org(ltd)
    ltd.ok(
        "products",
        "create",
        "--slug",
        "pipelines",
        "--source-repo-url",
        "https://github.com/lsst/pipelines",
        LTD_ORG=org,  # --org from the environment, as in CI
    )
    product = ltd.api(f"/orgs/{org}/products/pipelines").json()
    assert product["title"] == "pipelines"  # the slug, when no --title
    assert product["source_repo_url"] == "https://github.com/lsst/pipelines"

    assert [p["slug"] for p in ltd.json("products", "list", "--org", org)] == [
        "pipelines"
    ]
    table = ltd.ok("products", "list", "--org", org)
    assert lines(table)[1].startswith("pipelines ")

    ltd.ok("products", "update", "pipelines", "--org", org, "--title", "Pipelines")
    ltd.ok("products", "update", "pipelines", "--org", org, "--source-repo-url", "")
    product = ltd.api(f"/orgs/{org}/products/pipelines").json()
    assert (product["title"], product["source_repo_url"]) == ("Pipelines", None)


# -- editions ---------------------------------------------------------------


def test_editions_create_with_tracking_params(ltd: Ltd) -> None:
    org = new_org(ltd)
    product = new_product(ltd, org)
    where = {"LTD_ORG": org, "LTD_PRODUCT": product}
    ltd.ok(
        "editions",
        "create",
        "--slug",
        "2.x",
        "--kind",
        "major",
        "--tracking-mode",
        "semver_major",
        "--tracking-param",
        "major=2",
        **where,
    )
    edition = ltd.api(f"/orgs/{org}/products/{product}/editions/2.x").json()
    assert (edition["kind"], edition["tracking_mode"]) == ("major", "semver_major")
    assert edition["tracking_params"] == {"major": 2}

    ltd.ok(
        "editions",
        "create",
        "--slug",
        "legacy",
        "--tracking-mode",
        "git_refs",
        "--tracking-param",
        'git_refs:=["main", "develop"]',
        "--hidden",
        **where,
    )
    legacy = ltd.api(f"/orgs/{org}/products/{product}/editions/legacy").json()
    assert legacy["tracking_params"] == {"git_refs": ["main", "develop"]}
    assert legacy["hidden"] is True

    slugs = {e["slug"] for e in ltd.json("editions", "list", **where)}
    assert slugs == {"__main", "2.x", "legacy"}
    table = ltd.ok("editions", "list", **where)
    row = next(line for line in lines(table) if line.startswith("2.x "))
    assert "semver_major" in row and "major=2" in row


def test_a_bad_tracking_param_is_a_usage_error(ltd: Ltd) -> None:
    result = ltd(
        "editions", "create", "--org", "x", "--product", "y", "--slug", "s",
        "--tracking-param", "major",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "is not KEY=VALUE" in result.stderr


def test_update_points_an_edition_and_rollback_restores_it(ltd: Ltd) -> None:
    org = new_org(ltd)
    product = new_product(ltd, org)
    base = f"/api/orgs/{org}/products/{product}"
    auth = ltd.keeper.auth()
    first = publish(ltd.keeper.client, base, auth, site("one"))["id"]
    second = publish(ltd.keeper.client, base, auth, site("two"))["id"]
    where = {"LTD_ORG": org, "LTD_PRODUCT": product}
    ltd.ok(
        "editions", "create", "--slug", "pinned", "--tracking-mode", "manual", **where
    )
    path = f"/orgs/{org}/products/{product}/editions/pinned"

    ltd.ok("editions", "update", "pinned", "--build", first, **where)
    assert ltd.api(path).json()["build_id"] == first
    updated = ltd.json("editions", "update", "pinned", "--build", second, **where)
    assert updated["build_id"] == second

    rolled = ltd.ok("editions", "rollback", "pinned", "--build", first, **where)
    assert f"now shows build {first}" in rolled.stderr
    assert ltd.api(path).json()["build_id"] == first

    history = ltd.json("editions", "history", "pinned", **where)
    assert [(h["build_id"], h["reason"]) for h in history][-3:] == [
        (first, "manual"),
        (second, "manual"),
        (first, "rollback"),
    ]
    table = ltd.ok("editions", "history", "pinned", **where)
    assert lines(table)[0].split() == ["WHEN", "BUILD", "PREVIOUS", "REASON", "BY"]
    assert lines(table)[-1].split()[2:4] == [first, second]

    ltd.ok("editions", "update", "pinned", "--slug", "fixed", "--visible", **where)
    assert ltd.api(f"/orgs/{org}/products/{product}/editions/fixed").status_code == 200


# -- builds -----------------------------------------------------------------


def test_builds_list_show_and_confirm(ltd: Ltd) -> None:
    org = new_org(ltd)
    product = new_product(ltd, org)
    base = f"/api/orgs/{org}/products/{product}"
    auth = ltd.keeper.auth()
    old = publish(ltd.keeper.client, base, auth, site("a"), git_ref="main")["id"]
    new = publish(ltd.keeper.client, base, auth, site("b"), git_ref="v1.0.0")["id"]
    where = {"LTD_ORG": org, "LTD_PRODUCT": product}

    assert [b["id"] for b in ltd.json("builds", "list", **where)] == [new, old]
    assert [b["id"] for b in ltd.json("builds", "list", "--limit", "1", **where)] == [
        new
    ]
    only_main = ltd.json("builds", "list", "--git-ref", "main", **where)
    assert [b["id"] for b in only_main] == [old]
    table = ltd.ok("builds", "list", **where)
    assert [line.split()[0] for line in lines(table)] == ["ID", new, old]
    assert "complete" in lines(table)[1]

    shown = ltd.json("builds", "show", new, **where)
    assert (shown["git_ref"], shown["status"]) == ("v1.0.0", "complete")
    assert record(ltd.ok("builds", "show", new, **where))["git_ref"] == "v1.0.0"

    # Confirming again is idempotent: the build stays complete.
    again = ltd.json("builds", "confirm", new, **where)
    assert again["status"] == "complete"


def test_builds_confirm_waits_for_the_verification(ltd: Ltd) -> None:
    org = new_org(ltd)
    product = new_product(ltd, org)
    base = f"/api/orgs/{org}/products/{product}"
    auth = ltd.keeper.auth()
    where = {"LTD_ORG": org, "LTD_PRODUCT": product}
    files = site("c")
    build = register_build(ltd.keeper.client, base, auth, files)
    upload(ltd.keeper.client, {"uploads": build["uploads"][1:]}, files)

    # One file never sent: keeper's job fails the build, naming it.
    failed = ltd("builds", "confirm", build["id"], **where)
    assert failed.exit_code == 1, failed.output
    assert f"{build['uploads'][0]['path']} (missing)" in failed.output

    upload(ltd.keeper.client, build, files)
    done = ltd.json("builds", "confirm", build["id"], **where)
    assert done["status"] == "complete"
    main = ltd.api(f"/orgs/{org}/products/{product}/editions/__main").json()
    assert main["build_id"] == build["id"]


# -- deletion ---------------------------------------------------------------


def test_delete_asks_first_unless_yes(ltd: Ltd) -> None:
    org = new_org(ltd)
    product = new_product(ltd, org)
    where = {"LTD_ORG": org, "LTD_PRODUCT": product}
    for slug in ("a", "b", "c"):
        ltd.ok(
            "editions", "create", "--slug", slug, "--tracking-mode", "manual", **where
        )
    edition = f"/orgs/{org}/products/{product}/editions"

    declined = ltd("editions", "delete", "a", input="n\n", **where)
    assert declined.exit_code == 1
    assert "Delete edition a" in declined.stderr
    assert ltd.api(f"{edition}/a").status_code == 200

    # A script that forgot --yes has no one to answer: nothing is deleted.
    unattended = ltd("editions", "delete", "a", input="", **where)
    assert unattended.exit_code == 1
    assert ltd.api(f"{edition}/a").status_code == 200

    ltd.ok("editions", "delete", "a", input="y\n", **where)
    assert ltd.api(f"{edition}/a").status_code == 404
    for flag in ("--yes", "-y"):
        slug = "b" if flag == "--yes" else "c"
        result = ltd.ok("editions", "delete", slug, flag, **where)
        assert "Delete edition" not in result.output
        assert ltd.api(f"{edition}/{slug}").status_code == 404

    base = f"/api/orgs/{org}/products/{product}"
    build = publish(ltd.keeper.client, base, ltd.keeper.auth(), site("x"))["id"]
    # __main shows it, so keeper refuses: a conflict, exit code 8.
    refused = ltd("builds", "delete", build, "--yes", **where)
    assert refused.exit_code == 8, refused.output
    assert "__main" in refused.stderr

    # An org with products is refused too; delete the product first.
    assert ltd("orgs", "delete", org, "--yes").exit_code == 8
    ltd.ok("products", "delete", product, "--org", org, "--yes")
    assert ltd.api(f"/orgs/{org}/products/{product}").status_code == 404
    ltd.ok("orgs", "delete", org, "--yes")
    assert ltd.api(f"/orgs/{org}").status_code == 404


# -- tokens -----------------------------------------------------------------


def test_created_token_works_for_its_role(ltd: Ltd) -> None:
    org = new_org(ltd)
    product = new_product(ltd, org)
    made = ltd.ok(
        "tokens", "create", "--org", org, "--role", "uploader", "--name", "ci"
    )
    token = made.stdout.strip()
    assert token and "\n" not in token  # only the secret on stdout
    assert "cannot be shown again" in made.stderr

    # The uploader token publishes …
    base = f"/api/orgs/{org}/products/{product}"
    build = publish(ltd.keeper.client, base, ltd.keeper.auth(token), site("t"))
    assert build["status"] == "complete"
    assert build["uploader"]
    # … but may not manage the org: 403 is exit code 4.
    denied = ltd("products", "create", "--org", org, "--slug", "x", LTD_TOKEN=token)
    assert denied.exit_code == 4
    assert "role" in denied.stderr

    admin = ltd.json(
        "tokens", "create", "--org", org, "--role", "admin", "--expires", in_days(30)
    )
    assert admin["role"] == "admin"
    ltd.ok(
        "products",
        "create",
        "--org",
        org,
        "--slug",
        "by-admin",
        LTD_TOKEN=admin["token"],
    )


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def test_tokens_list_and_revoke(ltd: Ltd) -> None:
    org = new_org(ltd)
    ltd.ok("tokens", "create", "--org", org, "--name", "github-ci")
    alice = ltd.json(
        "tokens", "create", "--org", org, "--role", "admin", "--name", "alice"
    )

    table = ltd.ok("tokens", "list", "--org", org)
    header, *rows = lines(table)
    assert header.split() == [
        "ID", "NAME", "ROLE", "STARTS", "WITH", "CREATED", "LAST", "USED", "EXPIRES"
    ]  # fmt: skip
    assert [row.split()[1:3] for row in rows] == [
        ["github-ci", "uploader"],
        ["alice", "admin"],
    ]
    assert alice["token"] not in table.stdout
    listed = ltd.json("tokens", "list", "--org", org)
    api = ltd.keeper.client.get(f"/api/orgs/{org}/tokens", headers=ltd.keeper.auth())
    assert listed == api.json()
    assert [t["name"] for t in listed] == ["github-ci", "alice"]
    assert "token" not in listed[0]

    # Alice's token works; then it leaks and is revoked.
    ltd.ok("products", "create", "--org", org, "--slug", "a", LTD_TOKEN=alice["token"])
    # Without --yes and nobody to answer, nothing is revoked.
    unanswered = ltd("tokens", "revoke", str(alice["id"]), "--org", org)
    assert unanswered.exit_code == 1
    assert len(ltd.json("tokens", "list", "--org", org)) == 2

    revoked = ltd("tokens", "revoke", str(alice["id"]), "--org", org, input="y\n")
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {alice['id']}" in revoked.stderr
    assert [t["name"] for t in ltd.json("tokens", "list", "--org", org)] == [
        "github-ci"
    ]
    # The revoked token is refused at once: exit code 4.
    refused = ltd(
        "products", "create", "--org", org, "--slug", "b", LTD_TOKEN=alice["token"]
    )
    assert refused.exit_code == 4
    assert "did not accept the token" in refused.stderr
    again = ltd("tokens", "revoke", str(alice["id"]), "--org", org, "--yes")
    assert again.exit_code == 3


def test_tokens_are_listed_only_for_the_orgs_admins(ltd: Ltd) -> None:
    org = new_org(ltd)
    uploader = ltd.ok("tokens", "create", "--org", org).stdout.strip()
    denied = ltd("tokens", "list", "--org", org, LTD_TOKEN=uploader)
    assert denied.exit_code == 4
    assert denied.stdout == ""


@pytest.mark.parametrize(
    ("expires", "reason"), [("2000-01-01", "future"), ("2200-01-01", "at most")]
)
def test_a_token_cannot_be_made_expired_or_for_centuries(
    ltd: Ltd, expires: str, reason: str
) -> None:
    org = new_org(ltd)
    result = ltd("tokens", "create", "--org", org, "--expires", expires)
    assert result.exit_code == 8
    assert reason in result.stderr
    assert result.stdout == ""
    assert ltd.json("tokens", "list", "--org", org) == []


def test_an_orgs_domain_is_its_own_and_the_superadmins_to_set(ltd: Ltd) -> None:
    first, second = new_org(ltd), new_org(ltd)
    taken = ltd("orgs", "update", second, "--base-domain", domain(first))
    assert taken.exit_code == 8
    assert first in taken.stderr
    admin = ltd.json("tokens", "create", "--org", second, "--role", "admin")["token"]
    denied = ltd(
        "orgs", "update", second, "--base-domain", f"x.{domain(second)}",
        LTD_TOKEN=admin,
    )  # fmt: skip
    assert denied.exit_code == 4
    assert "superadmin" in denied.stderr
    assert ltd.api(f"/orgs/{second}").json()["base_domain"] == domain(second)


# -- errors -----------------------------------------------------------------


def test_unknown_org_exits_3(ltd: Ltd) -> None:
    result = ltd("products", "list", "--org", "no-such-org")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert "no-such-org" in result.stderr
    assert result.stdout == ""


def test_bad_token_exits_4(ltd: Ltd) -> None:
    result = ltd("orgs", "create", "--slug", "never", LTD_TOKEN="ltd_not-a-token")
    assert result.exit_code == 4
    assert "LTD_TOKEN" in result.stderr
    assert ltd.api("/orgs/never").status_code == 404

    anonymous = ltd("orgs", "create", "--slug", "never", LTD_TOKEN=None)
    assert anonymous.exit_code == 4


def test_unreachable_host_exits_5(ltd: Ltd, monkeypatch: pytest.MonkeyPatch) -> None:
    # The client retries a dead host with backoff; no need to wait for it.
    monkeypatch.setattr("conveyor.retry.time.sleep", lambda seconds: None)
    dead = f"http://127.0.0.1:{free_port()}"
    result = ltd("orgs", "list", "--host", dead)
    assert result.exit_code == 5
    assert "cannot reach keeper" in result.stderr and "LTD_HOST" in result.stderr


def test_missing_host_says_how_to_give_it(ltd: Ltd) -> None:
    result = ltd("orgs", "list", LTD_HOST=None)
    assert result.exit_code == 1
    assert "--host" in result.stderr and "LTD_HOST" in result.stderr


def test_duplicate_slug_exits_8(ltd: Ltd) -> None:
    org = new_org(ltd)
    result = ltd("orgs", "create", "--slug", org)
    assert result.exit_code == 8
    assert "already exists" in result.stderr


# -- output -----------------------------------------------------------------


def _terminal() -> Console:
    return Console(
        file=io.StringIO(), force_terminal=True, width=100, color_system=None
    )


def test_a_terminal_gets_rich_tables() -> None:
    out = _terminal()
    rows = [{"slug": "lsst", "title": "LSST", "created": "2024-05-01T12:00:00.5+00:00"}]
    emit_list(
        rows,
        [
            Column("slug", "slug"),
            Column("title", "title"),
            Column("created", "created"),
        ],
        as_json=False,
        out=out,
    )
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "│" in text or "┃" in text
    assert "lsst" in text and "LSST" in text

    out = _terminal()
    emit_record(
        {"slug": "lsst", "storage_url": None, "cdn_settings": {}},
        as_json=False,
        out=out,
    )
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "slug" in text and "lsst" in text
    assert "storage_url" in text and "-" in text
