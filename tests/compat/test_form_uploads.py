"""Keeper's own signed form-POST URLs: what S3's presigned POST does, for
stores that cannot presign one (the filesystem, rclone). Files land in the
build's staging folder, and only while the build is being uploaded."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from keeper.services.errors import Forbidden
from keeper.services.form_uploads import resolve_key
from keeper.services.runtime import Runtime
from keeper.services.upload_urls import PostGrant, UploadGrant
from tests.compat import ltd1
from tests.compat.conftest import Site
from tests.conftest import Keeper
from tests.objects import build_in, folder_walk


def runtime(keeper: Keeper) -> Runtime:
    rt: Runtime = keeper.client.app.state.runtime  # type: ignore[attr-defined]
    return rt


def url_for(keeper: Keeper, grant: PostGrant) -> str:
    return f"/api/uploads/form/{runtime(keeper).signer.sign_post(grant)}"


def pending_build(site: Site) -> str:
    """A build registered the 1.x way: it takes form uploads."""
    token = ltd1.get_token(site.keeper.client, site.uploader)
    build = ltd1.register(site.keeper.client, token, "pipelines", ["main"], {})
    slug: str = build["slug"]
    return slug


@pytest.fixture
def build_id(site: Site) -> str:
    return pending_build(site)


def root(build_id: str) -> str:
    return f"pipelines/_staging/{build_id}/"


def grant(build_id: str, **changes: object) -> PostGrant:
    fields: dict[str, object] = {
        "org": "lsst",
        "build": build_id,
        "root": root(build_id),
        "folder": "api/",
        "expires": int(time.time()) + 600,
    }
    return PostGrant(**{**fields, **changes})  # type: ignore[arg-type]


def storage(keeper: Keeper) -> Path:
    return Path(keeper.settings.storage_url.removeprefix("file://")) / "lsst"


def stored_keys(keeper: Keeper) -> list[str]:
    """Every object of the org's builds; the generated pages that keeper
    writes under ``<product>/_meta/`` are none of the uploads' business."""
    root = storage(keeper)
    keys = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return sorted(k for k in keys if "/_meta/" not in f"/{k}")


def folder(build_id: str) -> str:
    return root(build_id) + "api/"


def post(site: Site, url: str, name: str, data: bytes, **fields: str) -> int:
    response = site.keeper.client.post(url, data=fields, files={"file": (name, data)})
    return response.status_code


def test_a_file_lands_in_staging_at_the_key_with_its_name(
    site: Site, build_id: str
) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant(build_id)),
        data={"key": folder(build_id) + "${filename}", "Content-Type": "text/html"},
        files={"file": ("page.html", b"<p>api</p>")},
    )

    assert response.status_code == 204, response.text
    landed = storage(site.keeper) / folder(build_id) / "page.html"
    assert landed.read_bytes() == b"<p>api</p>"
    assert stored_keys(site.keeper) == [folder(build_id) + "page.html"]


def test_without_a_key_field_the_file_lands_in_the_granted_folder(
    site: Site, build_id: str
) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant(build_id)), files={"file": ("x.css", b"a{}")}
    )

    assert response.status_code == 204, response.text
    assert stored_keys(site.keeper) == [folder(build_id) + "x.css"]


@pytest.mark.parametrize(
    ("key", "filename"),
    [
        ("pipelines/builds/{id}/api/${{filename}}", "x.html"),
        ("pipelines/_staging/other/${{filename}}", "x.html"),
        ("{folder}../../other/${{filename}}", "x.html"),
        ("{folder}${{filename}}", "../escape.html"),
        ("{folder}${{filename}}", "..\\escape.html"),
        ("{folder}a//${{filename}}", "x.html"),
        ("/{folder}${{filename}}", "x.html"),
        ("{folder}${{filename}}", ".keeper-tmp-x"),
        ("{folder}%2e%2e/${{filename}}", "x.html"),
        ("{folder}${{filename}}", "a\x00b.html"),
        ("{folder}${{filename}}", "x" * 256),
    ],
    ids=[
        "the-build-itself",
        "other-folder",
        "dotdot-in-key",
        "dotdot-in-filename",
        "backslash",
        "empty-segment",
        "absolute",
        "reserved-name",
        "percent-encoded-dotdot",
        "nul",
        "name-too-long",
    ],
)
def test_a_key_cannot_leave_the_granted_folder(
    site: Site, build_id: str, key: str, filename: str
) -> None:
    named = key.format(id=build_id, folder=folder(build_id))
    response = site.keeper.client.post(
        url_for(site.keeper, grant(build_id)),
        data={"key": named},
        files={"file": (filename, b"x")},
    )

    assert response.status_code == 403, response.text
    assert stored_keys(site.keeper) == []


def test_an_unnamed_file_names_no_key() -> None:
    with pytest.raises(Forbidden):
        resolve_key(grant("b1"), None, "")


@pytest.mark.parametrize(
    "token",
    ["garbage", "abc.def", "", "caf\u00e9.x"],
    ids=["garbage", "bad-mac", "empty", "non-ascii"],
)
def test_a_forged_url_is_refused(site: Site, token: str) -> None:
    response = site.keeper.client.post(
        f"/api/uploads/form/{token}x", files={"file": ("a.html", b"x")}
    )

    assert response.status_code == 403


def test_an_expired_url_is_refused(site: Site, build_id: str) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant(build_id, expires=int(time.time()) - 1)),
        files={"file": ("a.html", b"x")},
    )

    assert response.status_code == 403
    assert "expired" in response.json()["detail"][0]["msg"]


def test_a_put_url_does_not_open_a_form_upload(site: Site, build_id: str) -> None:
    """Both are signed with one key; the purpose keeps them apart."""
    put = runtime(site.keeper).signer.sign(
        UploadGrant(
            org="lsst",
            build=build_id,
            key=folder(build_id) + "a.html",
            size=1,
            sha256="0" * 64,
            content_type="text/html",
            expires=int(time.time()) + 600,
        )
    )

    response = site.keeper.client.post(
        f"/api/uploads/form/{put}", files={"file": ("a.html", b"x")}
    )

    assert response.status_code == 403


def test_a_grant_for_another_builds_folder_is_refused(
    site: Site, build_id: str
) -> None:
    """Only keeper signs grants, and only for a build's own staging folder;
    should its key leak, a grant naming one build and another's folder
    still writes nothing."""
    other = pending_build(site)
    forged = grant(build_id, root=root(other))

    response = site.keeper.client.post(
        url_for(site.keeper, forged), files={"file": ("a.html", b"x")}
    )

    assert response.status_code == 403
    assert stored_keys(site.keeper) == []


def test_a_marker_url_takes_an_empty_object_and_stores_nothing(
    site: Site, build_id: str
) -> None:
    url = url_for(site.keeper, grant(build_id, discard=True))

    empty = site.keeper.client.post(url, files={"file": ("", b"")})
    not_empty = site.keeper.client.post(url, files={"file": ("a.html", b"x")})

    assert empty.status_code == 204, empty.text
    assert not_empty.status_code == 422
    assert stored_keys(site.keeper) == []


def test_a_form_without_a_file_is_refused(site: Site, build_id: str) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant(build_id)),
        data={"key": folder(build_id) + "a.html"},
    )

    assert response.status_code == 422


def test_an_upload_too_large_is_refused_before_it_is_read(
    site: Site, build_id: str
) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant(build_id)),
        content=b"x",
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(6 * 1024**3),
        },
    )

    assert response.status_code == 413


def test_a_file_beside_a_folder_of_its_name_is_a_clear_conflict(
    site: Site, build_id: str
) -> None:
    url = url_for(site.keeper, grant(build_id, folder=""))

    first = post(site, url, "q/y.html", b"<p>y</p>")
    clash = site.keeper.client.post(url, files={"file": ("q", b"q")})

    assert first == 204
    assert clash.status_code == 409, clash.text
    assert "'q'" in clash.json()["detail"][0]["msg"]
    assert stored_keys(site.keeper) == [root(build_id) + "q/y.html"]


# -- a form URL ends with its build's upload ---------------------------------------


def test_a_form_url_replayed_after_confirmation_is_refused(site: Site) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader)
    files = {"index.html": b"<h1>published</h1>"}
    build = ltd1.register(client, token, "pipelines", ["main"], files)
    ltd1.upload(client, build, files)
    assert ltd1.confirm(client, token, build).status_code == 200
    published = stored_keys(site.keeper)

    replay = ltd1.post_file(
        client, build["post_prefix_urls"]["/"], "index.html", b"<script>x</script>"
    )
    extra = ltd1.post_file(
        client, build["post_prefix_urls"]["/"], "new.html", b"<script>x</script>"
    )

    assert replay.status_code == extra.status_code == 409, replay.text
    assert "complete" in replay.json()["detail"][0]["msg"]
    assert stored_keys(site.keeper) == published
    objects = folder_walk(storage(site.keeper))()
    assert build_in(objects, "pipelines", build["slug"]) == files
    hostile = hashlib.sha256(b"<script>x</script>").hexdigest()
    assert not [
        key
        for key, data in objects.items()
        if "/_objects/" in key and (hostile in key or data == b"<script>x</script>")
    ]


def test_a_failed_build_takes_form_uploads_again(site: Site) -> None:
    client = site.keeper.client
    token = ltd1.get_token(client, site.uploader)
    files = {"index.html": b"<h1>x</h1>"}
    build = ltd1.register(client, token, "pipelines", ["main"], files)
    assert ltd1.confirm(client, token, build).status_code == 422  # nothing sent

    ltd1.upload(client, build, files)

    assert ltd1.confirm(client, token, build).status_code == 200
