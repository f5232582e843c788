"""Keeper's own signed PUT URLs (the filesystem store): a URL writes only
its declared file, only while its build is being uploaded, and only into
the build's staging folder, which confirmation publishes.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from keeper.db import Build, BuildStatus
from keeper.db.engine import make_engine
from keeper.services.runtime import Runtime
from keeper.services.upload_urls import UploadGrant
from tests.conftest import Keeper
from tests.objects import Objects, build_in, folder_walk
from tests.publishing import Files, confirm, failed_with, publish, register, upload

BASE = "/api/orgs/lsst/products/pipelines"
SITE: Files = {
    "index.html": b"<h1>published</h1>",
    "about.html": b"<p>about us</p>",
    "_static/style.css": b"body { color: black }",
}
#: Same length as SITE["index.html"]: only the bytes differ.
SCRIPT = b"<script>x</script>"
assert len(SCRIPT) == len(SITE["index.html"])


def objects(k: Keeper) -> Objects:
    root = Path(k.settings.storage_url.removeprefix("file://")) / "lsst"
    return folder_walk(root)()


def built(build_id: str) -> str:
    return f"pipelines/builds/{build_id}/"


def staged(build_id: str) -> str:
    return f"pipelines/_staging/{build_id}/"


def served(k: Keeper, path: str) -> httpx.Response:
    """What a reader gets from the built-in edge."""
    return k.client.get(f"/{path}", headers={"Host": "pipelines.lsst.io"})


def url_of(build: dict[str, Any], path: str) -> str:
    url: str = next(u["url"] for u in build["uploads"] if u["path"] == path)
    return url


def set_status(k: Keeper, build_id: str, status: BuildStatus) -> None:
    engine = make_engine(k.settings.database_url)
    with Session(engine) as session:
        build = session.exec(select(Build).where(Build.public_id == build_id)).one()
        build.status = status
        session.add(build)
        session.commit()
    engine.dispose()


def runtime(k: Keeper) -> Runtime:
    rt: Runtime = k.client.app.state.runtime  # type: ignore[attr-defined]
    return rt


# -- a URL ends with its build's upload ------------------------------------------


def test_a_put_url_replayed_after_completion_changes_nothing(product: Keeper) -> None:
    build = register(product.client, BASE, product.auth(), SITE)
    upload(product.client, build, SITE)
    assert confirm(product.client, BASE, product.auth(), build["id"]).status_code == 200
    before = objects(product)
    url = url_of(build, "index.html")

    same_size = product.client.put(url, content=SCRIPT)
    same_bytes = product.client.put(url, content=SITE["index.html"])
    larger = product.client.put(url, content=SCRIPT * 3)

    assert same_size.status_code == same_bytes.status_code == 409, same_size.text
    assert "complete" in same_size.json()["detail"][0]["msg"]
    assert larger.status_code == 413
    assert objects(product) == before
    assert build_in(before, "pipelines", build["id"]) == SITE
    assert served(product, "index.html").content == SITE["index.html"]


def test_a_put_while_the_build_is_confirmed_is_refused(product: Keeper) -> None:
    build = register(product.client, BASE, product.auth(), SITE)
    set_status(product, build["id"], BuildStatus.processing)

    response = product.client.put(
        url_of(build, "index.html"), content=SITE["index.html"]
    )

    assert response.status_code == 409
    assert objects(product) == {}


def test_a_failed_build_takes_uploads_again(product: Keeper) -> None:
    build = register(product.client, BASE, product.auth(), SITE)
    failed_with(confirm(product.client, BASE, product.auth(), build["id"]))

    upload(product.client, build, SITE)

    assert confirm(product.client, BASE, product.auth(), build["id"]).status_code == 200
    assert build_in(objects(product), "pipelines", build["id"]) == SITE


def test_a_put_url_of_a_deleted_build_is_refused(product: Keeper) -> None:
    build = register(product.client, BASE, product.auth(), SITE)
    deleted = product.client.delete(
        f"{BASE}/builds/{build['id']}", headers=product.auth()
    )
    assert deleted.status_code == 204

    response = product.client.put(
        url_of(build, "index.html"), content=SITE["index.html"]
    )

    assert response.status_code == 404
    assert objects(product) == {}


# -- only the declared file ------------------------------------------------------


def chunks(data: bytes) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked), in small pieces."""
    for i in range(0, len(data), 5):
        yield data[i : i + 5]


PAGE = SITE["index.html"]
#: case -> (a fresh body each time: generators are used up, status).
BODIES: dict[str, tuple[Callable[[], bytes | Iterator[bytes]], int]] = {
    "longer": (lambda: PAGE + b"<script>", 413),
    "shorter": (lambda: PAGE[:-1], 400),
    "empty": (lambda: b"", 400),
    "same-size-other-bytes": (lambda: SCRIPT, 400),
    "chunked-longer": (lambda: chunks(PAGE + b"<script>"), 413),
    "chunked-shorter": (lambda: chunks(PAGE[:-1]), 400),
    "chunked-other-bytes": (lambda: chunks(SCRIPT), 400),
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_only_the_declared_bytes_are_stored(product: Keeper, case: str) -> None:
    body, status = BODIES[case]
    build = register(product.client, BASE, product.auth(), SITE)
    url = url_of(build, "index.html")

    refused = product.client.put(url, content=body())
    after_refusal = objects(product)
    accepted = product.client.put(url, content=PAGE)

    assert refused.status_code == status, refused.text
    assert refused.json()["detail"][0]["type"] in ("too_large", "body_mismatch")
    assert after_refusal == {}
    assert accepted.status_code == 204, accepted.text
    assert objects(product) == {staged(build["id"]) + "index.html": PAGE}


def test_a_declared_length_is_refused_before_the_body_is_read(
    product: Keeper,
) -> None:
    build = register(product.client, BASE, product.auth(), SITE)

    response = product.client.put(
        url_of(build, "index.html"),
        content=PAGE,
        headers={"Content-Length": str(5 * 1024**3)},
    )

    assert response.status_code == 413
    assert objects(product) == {}


def test_uploads_wait_in_staging_until_confirmation_publishes_them(
    product: Keeper,
) -> None:
    build = register(product.client, BASE, product.auth(), SITE)

    upload(product.client, build, SITE)
    waiting = objects(product)
    assert confirm(product.client, BASE, product.auth(), build["id"]).status_code == 200

    assert waiting == {staged(build["id"]) + p: data for p, data in SITE.items()}
    after = objects(product)
    # Staging is gone; each content is an object named by its hash, and
    # the build is its manifest.
    assert not [key for key in after if key.startswith(staged(build["id"]))]
    assert {k for k in after if "/_objects/" in f"/{k}"} == {
        f"pipelines/_objects/{d[:2]}/{d}"
        for d in (hashlib.sha256(data).hexdigest() for data in SITE.values())
    }
    assert build_in(after, "pipelines", build["id"]) == SITE


# -- forged and stale URLs -------------------------------------------------------


def grant_for(build_id: str, key: str, data: bytes) -> UploadGrant:
    return UploadGrant(
        org="lsst",
        build=build_id,
        key=key,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="text/html",
        expires=int(time.time()) + 600,
    )


def test_a_grant_names_its_own_builds_staging_only(product: Keeper) -> None:
    """A grant is signed for one build's staging folder; even one signed
    with keeper's key for another folder writes nothing."""
    published = publish(product.client, BASE, product.auth(), SITE)
    pending = register(product.client, BASE, product.auth(), {"x.html": b"x"})
    before = objects(product)
    signer = runtime(product).signer
    forged = [
        grant_for(pending["id"], built(published["id"]) + "index.html", SCRIPT),
        grant_for(pending["id"], staged(published["id"]) + "index.html", SCRIPT),
        grant_for(pending["id"], "pipelines/_meta/index.html", SCRIPT),
    ]

    answers = [
        product.client.put(f"/api/uploads/{signer.sign(g)}", content=SCRIPT).status_code
        for g in forged
    ]

    assert answers == [403, 403, 403]
    assert objects(product) == before


def test_a_url_signed_before_grants_named_their_build_is_refused(
    product: Keeper,
) -> None:
    """URLs of the old form (org, key, size, expiry under a plain MAC) are
    refused with 403, which ``ltd upload`` answers by asking for new ones."""
    build = register(product.client, BASE, product.auth(), SITE)
    secret = Path(product.settings.secret_key_file).read_bytes().strip()
    key = built(build["id"]) + "index.html"
    payload = base64.urlsafe_b64encode(
        json.dumps(["lsst", key, len(SCRIPT), int(time.time()) + 600]).encode()
    ).rstrip(b"=")
    mac = base64.urlsafe_b64encode(
        hmac.new(secret, payload, hashlib.sha256).digest()
    ).rstrip(b"=")
    old = f"/api/uploads/{payload.decode()}.{mac.decode()}"

    response = product.client.put(old, content=SCRIPT)
    tampered = product.client.put(
        url_of(build, "index.html")[:-3] + "AAA", content=PAGE
    )

    assert response.status_code == tampered.status_code == 403
    assert objects(product) == {}


def test_fresh_urls_are_not_given_for_files_keeper_copied(product: Keeper) -> None:
    publish(product.client, BASE, product.auth(), SITE)
    again = register(
        product.client, BASE, product.auth(), {**SITE, "new.html": b"<p>new</p>"}
    )
    assert [u["path"] for u in again["uploads"]] == ["new.html"]

    response = product.client.post(
        f"{BASE}/builds/{again['id']}/uploads",
        headers=product.auth(),
        json={"paths": ["index.html"]},
    )

    assert response.status_code == 422
    assert "index.html" in response.json()["detail"][0]["msg"]


def test_an_expired_url_is_refused_and_renewal_gives_one_that_works(
    product: Keeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``ltd upload`` does on a 403: ask ``POST …/uploads`` again."""
    build = register(product.client, BASE, product.auth(), SITE)
    url = url_of(build, "index.html")
    later = time.time() + product.settings.upload_url_expires_in + 1
    with monkeypatch.context() as m:
        m.setattr("keeper.services.upload_urls.time.time", lambda: later)
        expired = product.client.put(url, content=PAGE)
    renewed = product.client.post(
        f"{BASE}/builds/{build['id']}/uploads",
        headers=product.auth(),
        json={"paths": ["index.html"]},
    )

    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"][0]["msg"]
    assert renewed.status_code == 200, renewed.text
    [fresh] = renewed.json()
    assert product.client.put(fresh["url"], content=PAGE).status_code == 204
    assert objects(product) == {staged(build["id"]) + "index.html": PAGE}
