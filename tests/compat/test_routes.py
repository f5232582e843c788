"""The LTD Keeper 1.x routes, driven the way ltd-conveyor 0.8 drives them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keeper.app import create_app
from tests.compat import ltd1
from tests.compat.conftest import API, Site, make_org, make_token
from tests.conftest import Keeper, make_settings
from tests.objects import read_build
from tests.publishing import Files, publish
from tests.publishing import site as native_site
from tests.settled import SettledClient

SITE: Files = {
    "index.html": b"<h1>pipelines</h1>",
    "404.html": b"<p>not here</p>",
    "_static/style.css": b"body { color: black }",
    "api/index.html": b"<h1>api</h1>",
    "api/deep/page.html": b"<p>deep</p>",
    "empty.txt": b"",
}


def stored(keeper: Keeper, build_id: str) -> Files:
    """The build as keeper stores it, read from the folder: the paths its
    manifest object names, each with the bytes of its content-addressed
    object (which must hash to the sha256 the manifest gives)."""
    root = Path(keeper.settings.storage_url.removeprefix("file://")) / "lsst"
    return read_build(lambda key: (root / key).read_bytes(), "pipelines", build_id)


# -- GET / and GET /token ------------------------------------------------------


def test_root_announces_an_ltd_keeper_1x_server(keeper: Keeper) -> None:
    response = keeper.client.get("/")

    assert response.status_code == 200
    body = response.json()
    major = re.match(r"(\d+)\.(\d+)\.(\d+)", body["data"]["server_version"])
    # Newer clients take the 1.x routes for any version below 2.0.0.
    assert major is not None and int(major.group(1)) == 1
    assert body["links"]["token"] == "http://testserver/token"
    assert body["links"]["self"] == "http://testserver/"


def test_token_trades_a_keeper_token_for_a_session(site: Site) -> None:
    token = ltd1.get_token(site.keeper.client, site.uploader, username="travis-ci")

    assert token.startswith("ltds_")
    assert site.uploader not in token


@pytest.mark.parametrize(
    "headers",
    [
        {},
        ltd1.basic("ci", "not-a-token"),
        {"Authorization": "Basic !!!"},
        {"Authorization": "Digest abc"},
    ],
    ids=["none", "wrong-password", "malformed", "other-scheme"],
)
def test_token_refuses_anything_but_a_keeper_token(
    site: Site, headers: dict[str, str]
) -> None:
    response = site.keeper.client.get("/token", headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"][0]["type"] == "unauthorized"


def test_a_session_cannot_open_another_session(site: Site) -> None:
    token = ltd1.get_token(site.keeper.client, site.uploader)

    response = site.keeper.client.get("/token", headers=ltd1.basic("ci", token))

    assert response.status_code == 401


def test_a_tampered_session_is_refused(site: Site) -> None:
    token = ltd1.get_token(site.keeper.client, site.uploader)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = site.keeper.client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(forged),
        json={"git_refs": ["main"]},
    )

    assert response.status_code == 401


def test_the_keeper_token_itself_works_as_the_username(site: Site) -> None:
    response = site.keeper.client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(site.uploader),
        json={"git_refs": ["main"]},
    )

    assert response.status_code == 201, response.text


# -- POST /products/<p>/builds/ ---------------------------------------------------


def test_register_answers_like_ltd_keeper_1x(site: Site) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader, username="travis-ci")

    response = client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(token),
        json={
            "git_refs": ["tickets/DM-1", "main"],
            "directories": ["/", "api/", "api/deep/", "_static"],
        },
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == body["self_url"]
    assert body["self_url"] == f"http://testserver/builds/{body['slug']}"
    assert body["product_url"] == "http://testserver/products/pipelines"
    assert body["published_url"] == (
        f"https://pipelines.lsst.io/builds/{body['slug']}/"
    )
    assert body["uploaded"] is False
    assert body["surrogate_key"]
    assert body["git_refs"] == ["tickets/DM-1", "main"]
    folders = {"/", "api/", "api/deep/", "_static/"}
    assert set(body["post_prefix_urls"]) == folders
    assert set(body["post_dir_urls"]) == folders
    # Uploads land in the build's staging folder, which no edge serves; the
    # confirmation hashes them and places them as the product's objects.
    prefix = f"pipelines/_staging/{body['slug']}/"
    for name, target in body["post_prefix_urls"].items():
        folder = "" if name == "/" else name
        assert target["fields"]["key"] == f"{prefix}{folder}${{filename}}"
    # Our own API sees a pending build, refs and uploader recorded.
    build = site.build(body["slug"])
    assert build["status"] == "pending"
    assert build["git_ref"] == "tickets/DM-1"
    assert build["git_refs"] == ["tickets/DM-1", "main"]
    assert build["uploader"] == "travis-ci (travis)"


def test_register_takes_a_single_git_ref_as_later_clients_send(site: Site) -> None:
    response = site.keeper.client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(site.uploader),
        json={"git_ref": "v1.2.3", "directories": ["/"]},
    )

    assert response.status_code == 201, response.text
    assert response.json()["git_refs"] == ["v1.2.3"]


@pytest.mark.parametrize(
    "body",
    [
        {"git_refs": []},
        {"git_refs": [""]},
        {},
        {"git_refs": ["main"], "directories": ["../"]},
        {"git_refs": ["main"], "directories": ["a//b/"]},
        {"git_refs": ["main"], "directories": ["a\\b/"]},
    ],
    ids=["no-refs", "empty-ref", "nothing", "dotdot", "empty-segment", "backslash"],
)
def test_register_refuses_bad_refs_and_folders(
    site: Site, body: dict[str, object]
) -> None:
    response = site.keeper.client.post(
        "/products/pipelines/builds/", headers=ltd1.basic(site.uploader), json=body
    )

    assert response.status_code == 422, response.text


def test_register_needs_an_uploader(site: Site) -> None:
    client = site.keeper.client
    reader = ltd1.get_token(client, site.reader)

    no_auth = client.post("/products/pipelines/builds/", json={"git_refs": ["m"]})
    as_reader = client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(reader),
        json={"git_refs": ["main"]},
    )

    assert no_auth.status_code == 401
    assert as_reader.status_code == 403


def test_an_unknown_product_is_a_404_the_client_can_explain(site: Site) -> None:
    client = site.keeper.client

    register = client.post(
        "/products/nope/builds/",
        headers=ltd1.basic(site.uploader),
        json={"git_refs": ["main"]},
    )
    # 0.8 then asks for the product to tell "not registered" from "busy".
    product = client.get("/products/nope")

    assert register.status_code == 404
    assert product.status_code == 404
    assert "nope" in product.json()["detail"][0]["msg"]


def test_products_are_listed_and_shown(site: Site) -> None:
    client = site.keeper.client

    listing = client.get("/products/")
    product = client.get("/products/pipelines")

    assert listing.json() == {"products": ["http://testserver/products/pipelines"]}
    assert product.status_code == 200
    assert product.json()["published_url"] == "https://pipelines.lsst.io/"


# -- uploads and PATCH <self_url> -------------------------------------------------


def test_publish_moves_main_to_a_complete_build_of_the_uploaded_files(
    site: Site,
) -> None:
    confirmed = ltd1.publish(site.keeper.client, site.uploader, SITE)

    assert confirmed["uploaded"] is True
    assert confirmed["status"] == "complete"
    assert site.edition()["build_id"] == confirmed["slug"]
    build = site.build(confirmed["slug"])
    assert build["file_count"] == len(SITE)
    assert build["total_size"] == sum(len(d) for d in SITE.values())
    # Byte for byte, and no directory markers beside the files.
    assert stored(site.keeper, confirmed["slug"]) == SITE


def test_a_second_publish_moves_main_again(site: Site) -> None:
    first = ltd1.publish(site.keeper.client, site.uploader, SITE)
    changed = {**SITE, "index.html": b"<h1>pipelines, again</h1>"}

    second = ltd1.publish(site.keeper.client, site.uploader, changed)

    assert second["slug"] != first["slug"]
    assert site.edition()["build_id"] == second["slug"]
    assert stored(site.keeper, second["slug"]) == changed


def test_a_branch_build_gets_its_own_edition(site: Site) -> None:
    ltd1.publish(site.keeper.client, site.uploader, SITE)

    branch = ltd1.publish(
        site.keeper.client, site.uploader, SITE, git_refs=["tickets/DM-42"]
    )

    assert site.edition("DM-42")["build_id"] == branch["slug"]
    assert site.edition()["build_id"] != branch["slug"]


def test_confirming_with_nothing_uploaded_fails_and_can_be_retried(
    site: Site,
) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader)
    build = ltd1.register(client, token, "pipelines", ["main"], SITE)

    empty = ltd1.confirm(client, token, build)
    ltd1.upload(client, build, SITE)
    retried = ltd1.confirm(client, token, build)

    assert empty.status_code == 422
    assert empty.json()["detail"][0]["type"] == "verification_failed"
    assert retried.status_code == 200, retried.text
    assert site.edition()["build_id"] == build["slug"]


def test_confirming_twice_is_harmless(site: Site) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader)
    build = ltd1.register(client, token, "pipelines", ["main"], SITE)
    ltd1.upload(client, build, SITE)

    first = ltd1.confirm(client, token, build)
    second = ltd1.confirm(client, token, build)

    assert first.status_code == second.status_code == 200
    assert second.json()["status"] == "complete"


def test_patch_takes_only_uploaded_true(site: Site) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader)
    build = ltd1.register(client, token, "pipelines", ["main"], SITE)

    response = client.patch(
        build["self_url"], headers=ltd1.basic(token), json={"uploaded": False}
    )

    assert response.status_code == 422


def test_patch_needs_an_uploader(site: Site) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader)
    build = ltd1.register(client, token, "pipelines", ["main"], SITE)
    reader = ltd1.get_token(client, site.reader)

    response = ltd1.confirm(client, reader, build)

    assert response.status_code == 403


def test_a_build_shows_at_its_self_url(site: Site) -> None:
    confirmed = ltd1.publish(site.keeper.client, site.uploader, SITE)

    response = site.keeper.client.get(confirmed["self_url"])

    assert response.status_code == 200
    assert response.json()["status"] == "complete"
    assert response.json()["post_prefix_urls"] is None


def test_a_natively_registered_build_keeps_its_declared_manifest(
    site: Site,
) -> None:
    """PATCH through the 1.x route confirms it, but reads no manifest from
    storage: its client declared one, which keeper verifies as always."""
    files = native_site("native")
    headers = site.keeper.auth(site.uploader)
    build = publish(site.keeper.client, API, headers, files)

    response = site.keeper.client.patch(
        f"/builds/{build['id']}",
        headers=ltd1.basic(site.uploader),
        json={"uploaded": True},
    )

    assert response.status_code == 200
    assert site.build(build["id"])["file_count"] == len(files)


# -- which organization ---------------------------------------------------------


def test_with_no_organization_the_routes_say_what_to_do(keeper: Keeper) -> None:
    response = keeper.client.get("/products/")

    assert response.status_code == 503
    assert "no organization" in response.json()["detail"][0]["msg"]


def test_with_several_organizations_one_must_be_named(keeper: Keeper) -> None:
    make_org(keeper, "lsst", "pipelines")
    make_org(keeper, "other", "pipelines")

    response = keeper.client.get("/products/pipelines")

    assert response.status_code == 503
    message = response.json()["detail"][0]["msg"]
    assert "KEEPER_COMPAT_ORG" in message and "lsst, other" in message


def test_keeper_compat_org_picks_the_organization(
    keeper: Keeper, database_url: str, tmp_path: Path
) -> None:
    make_org(keeper, "lsst", "pipelines")
    make_org(keeper, "other", "pipelines")
    uploader = make_token(keeper, "other", "uploader", "other-ci")
    settings = make_settings(database_url, keeper.settings.storage_url, tmp_path)
    named = settings.model_copy(update={"compat_org": "other"})
    missing = settings.model_copy(update={"compat_org": "gone"})

    with SettledClient(create_app(named)) as client:
        confirmed = ltd1.publish(client, uploader, SITE)
        main = client.get("/api/orgs/other/products/pipelines/editions/__main")
    with SettledClient(create_app(missing)) as client:
        refused = client.get("/products/")

    assert main.json()["build_id"] == confirmed["slug"]
    assert refused.status_code == 503
    assert "'gone'" in refused.json()["detail"][0]["msg"]
