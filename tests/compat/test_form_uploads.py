"""Keeper's own signed form-POST URLs: what S3's presigned POST does, for
stores that cannot presign one (the filesystem, rclone)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keeper.services.errors import Forbidden
from keeper.services.form_uploads import resolve_key
from keeper.services.runtime import Runtime
from keeper.services.upload_urls import PostGrant, UploadGrant
from tests.compat.conftest import Site
from tests.conftest import Keeper

PREFIX = "pipelines/builds/b1/api/"


def runtime(keeper: Keeper) -> Runtime:
    rt: Runtime = keeper.client.app.state.runtime  # type: ignore[attr-defined]
    return rt


def url_for(keeper: Keeper, grant: PostGrant) -> str:
    return f"/api/uploads/form/{runtime(keeper).signer.sign_post(grant)}"


def grant(**changes: object) -> PostGrant:
    fields: dict[str, object] = {
        "org": "lsst",
        "prefix": PREFIX,
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


def test_a_file_lands_at_the_key_with_its_name(site: Site) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant()),
        data={"key": PREFIX + "${filename}", "Content-Type": "text/html"},
        files={"file": ("page.html", b"<p>api</p>")},
    )

    assert response.status_code == 204, response.text
    assert (storage(site.keeper) / PREFIX / "page.html").read_bytes() == b"<p>api</p>"


def test_without_a_key_field_the_file_lands_in_the_granted_folder(
    site: Site,
) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant()), files={"file": ("x.css", b"a{}")}
    )

    assert response.status_code == 204, response.text
    assert stored_keys(site.keeper) == [PREFIX + "x.css"]


@pytest.mark.parametrize(
    ("key", "filename"),
    [
        ("pipelines/builds/other/${filename}", "x.html"),
        (PREFIX + "../../other/${filename}", "x.html"),
        (PREFIX + "${filename}", "../escape.html"),
        (PREFIX + "${filename}", "..\\escape.html"),
        (PREFIX + "a//${filename}", "x.html"),
        ("/" + PREFIX + "${filename}", "x.html"),
        (PREFIX + "${filename}", ".keeper-tmp-x"),
    ],
    ids=[
        "other-folder",
        "dotdot-in-key",
        "dotdot-in-filename",
        "backslash",
        "empty-segment",
        "absolute",
        "reserved-name",
    ],
)
def test_a_key_cannot_leave_the_granted_folder(
    site: Site, key: str, filename: str
) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant()),
        data={"key": key},
        files={"file": (filename, b"x")},
    )

    assert response.status_code == 403, response.text
    assert stored_keys(site.keeper) == []


def test_an_unnamed_file_names_no_key() -> None:
    with pytest.raises(Forbidden):
        resolve_key(PREFIX, None, "")


@pytest.mark.parametrize(
    "token",
    ["garbage", "abc.def", ""],
    ids=["garbage", "bad-mac", "empty"],
)
def test_a_forged_url_is_refused(site: Site, token: str) -> None:
    response = site.keeper.client.post(
        f"/api/uploads/form/{token}x", files={"file": ("a.html", b"x")}
    )

    assert response.status_code == 403


def test_an_expired_url_is_refused(site: Site) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant(expires=int(time.time()) - 1)),
        files={"file": ("a.html", b"x")},
    )

    assert response.status_code == 403
    assert "expired" in response.json()["detail"][0]["msg"]


def test_a_put_url_does_not_open_a_form_upload(site: Site) -> None:
    """Both are signed with one key; the purpose keeps them apart."""
    put = runtime(site.keeper).signer.sign(
        UploadGrant(org="lsst", key=PREFIX, size=10, expires=int(time.time()) + 600)
    )

    response = site.keeper.client.post(
        f"/api/uploads/form/{put}", files={"file": ("a.html", b"x")}
    )

    assert response.status_code == 403


def test_a_marker_url_takes_an_empty_object_and_stores_nothing(
    site: Site,
) -> None:
    url = url_for(site.keeper, grant(discard=True))

    empty = site.keeper.client.post(url, files={"file": ("", b"")})
    not_empty = site.keeper.client.post(url, files={"file": ("a.html", b"x")})

    assert empty.status_code == 204, empty.text
    assert not_empty.status_code == 422
    assert stored_keys(site.keeper) == []


def test_a_form_without_a_file_is_refused(site: Site) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant()), data={"key": PREFIX + "a.html"}
    )

    assert response.status_code == 422


def test_an_upload_too_large_is_refused_before_it_is_read(site: Site) -> None:
    response = site.keeper.client.post(
        url_for(site.keeper, grant()),
        content=b"x",
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(6 * 1024**3),
        },
    )

    assert response.status_code == 413
