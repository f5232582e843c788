"""A leaked LTD Keeper 1.x form upload URL, used after its build was
published, against a real ``keeper serve`` on SQLite and PostgreSQL:

- on moto, S3 takes the presigned POST itself (S3 cannot ask keeper about
  the build), and the file lands in the build's staging folder, which no
  edge serves and the next confirmation removes;
- on ``rclone serve s3`` (``presigned_post=false``) keeper receives the
  POST and refuses it.

Either way the published build, and what readers get, stays as it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keeper.domain.limits import MAX_FILE_BYTES
from tests.compat import ltd1
from tests.keeper.test_served import AUTH, serve, setup_product
from tests.objects import Objects, Walk, bucket_walk, build_in, under
from tests.publishing import Files
from tests.servers import S3Endpoint

pytestmark = pytest.mark.s3server

SITE: Files = {
    "index.html": b"<h1>published</h1>",
    "api/index.html": b"<h1>api</h1>",
}
SCRIPT = b"<script>x</script>"
PRODUCT = "sites/lsst/pipelines"
OBJECTS = f"{PRODUCT}/_objects/"
MANIFESTS = f"{PRODUCT}/_manifests/"


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def served(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[str, httpx.Client, str, Walk]]:
    """(backend, client, uploader token, walk of the bucket)."""
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    bucket = endpoint.new_bucket()
    relayed = "&presigned_post=false" if request.param == "rclone_s3" else ""
    env = {
        **endpoint.keeper_env(bucket, options=relayed),
        "KEEPER_DATABASE_URL": database_url,
    }
    for client in serve(tmp_path / "keeper", env):
        setup_product(client)
        r = client.post(
            "/api/orgs/lsst/tokens",
            headers=AUTH,
            json={"role": "uploader", "name": "ci"},
        )
        assert r.status_code == 201, r.text
        backend = request.param.removesuffix("_s3")
        yield backend, client, r.json()["token"], bucket_walk(endpoint, bucket)


def read(client: httpx.Client, path: str) -> bytes:
    r = client.get(f"/{path}", headers={"Host": "pipelines.lsst.io"})
    assert r.status_code == 200, r.text
    return r.content


def no_object_of(objects: Objects, data: bytes) -> bool:
    """True when no content-addressed object holds ``data``, under its
    hash's key or any other."""
    digest = hashlib.sha256(data).hexdigest()
    return not [
        key
        for key, held in under(objects, OBJECTS).items()
        if digest in key or held == data
    ]


def test_a_form_url_used_after_publication_changes_nothing_served(
    served: tuple[str, httpx.Client, str, Walk],
) -> None:
    backend, client, token, walk = served
    staging = f"{PRODUCT}/_staging/"
    session = ltd1.get_token(client, token)
    build = ltd1.register(client, session, "pipelines", ["main"], SITE)
    ltd1.upload(client, build, SITE)
    assert ltd1.confirm(client, session, build).status_code == 200
    before = walk()
    assert build_in(before, PRODUCT, build["slug"]) == SITE

    replay = ltd1.post_file(
        client, build["post_prefix_urls"]["/"], "index.html", SCRIPT
    )
    extra = ltd1.post_file(client, build["post_prefix_urls"]["/"], "x.html", SCRIPT)

    after = walk()
    if backend == "moto":  # S3 took it: into staging
        assert replay.status_code == extra.status_code == 204, replay.text
        assert set(under(after, staging)) == {
            f"{build['slug']}/index.html",
            f"{build['slug']}/x.html",
        }
    else:  # keeper took it, and refused
        assert replay.status_code == extra.status_code == 409, replay.text
        assert after == before
    # The build, as its manifest object and its objects give it, and every
    # object the product holds, are as they were; none holds the replay.
    assert build_in(after, PRODUCT, build["slug"]) == SITE
    assert under(after, OBJECTS) == under(before, OBJECTS)
    assert under(after, MANIFESTS) == under(before, MANIFESTS)
    assert no_object_of(after, SCRIPT)
    assert read(client, "index.html") == SITE["index.html"]

    # The next confirmation of the product clears what the replay left.
    second = ltd1.publish(client, token, {**SITE, "index.html": b"<h1>second</h1>"})
    assert second["slug"] != build["slug"]
    later = walk()
    assert under(later, staging) == {}
    assert build_in(later, PRODUCT, build["slug"]) == SITE
    assert no_object_of(later, SCRIPT)


# Only a store that takes presigned POSTs signs a policy (rclone's form
# uploads go through keeper, which checks them itself).
@pytest.mark.parametrize("served", ["moto_s3"], indirect=True)
def test_presigned_posts_cap_the_size_of_a_file(
    served: tuple[str, httpx.Client, str, Walk],
) -> None:
    _, client, token, _ = served
    session = ltd1.get_token(client, token)
    build = ltd1.register(client, session, "pipelines", ["main"], SITE)

    fields = build["post_prefix_urls"]["/"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))

    assert ["content-length-range", 0, MAX_FILE_BYTES] in policy["conditions"]
    assert [
        "starts-with",
        "$key",
        f"sites/lsst/pipelines/_staging/{build['slug']}/",
    ] in (policy["conditions"])
