"""Hostile input to every upload route, each answered with a clear 4xx and
nothing written outside the build's own folders (the whole store is read
before and after). SQLite and PostgreSQL, the filesystem store.

The routes: registration (``POST …/builds``), renewal (``POST
…/builds/<id>/uploads``), keeper's signed PUT (``PUT /api/uploads/<token>``),
the 1.x registration (``POST /products/<p>/builds/``) and keeper's signed
form POST (``POST /api/uploads/form/<token>``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PRODUCT_API
from tests.compat import ltd1
from tests.compat.conftest import make_token
from tests.conftest import Keeper
from tests.objects import Objects, folder_walk
from tests.publishing import manifest_of, register

SHA = "0" * 64

#: The same traps in every field that names a file.
HOSTILE_PATHS = {
    "dotdot": "../../etc/passwd",
    "dotdot-inside": "a/../../../b.html",
    "encoded-dotdot": "%2e%2e/%2e%2e/x.html",
    "double-encoded-dotdot": "%252e%252e/x.html",
    "encoded-slash": "..%2f..%2fx.html",
    "backslash": "..\\..\\x.html",
    "nul": "a.html\x00.png",
    "encoded-nul": "a.html%00.png",
    "absolute": "/etc/passwd",
    "reserved": ".keeper-tmp-0123",
    "newline": "a\r\nb.html",
}


@pytest.fixture
def uploader(product: Keeper) -> tuple[Keeper, str]:
    return product, make_token(product, "lsst", "uploader", "ci")


def everything(k: Keeper) -> Objects:
    """The whole store, generated pages aside."""
    return folder_walk(Path(k.settings.storage_url.removeprefix("file://")))()


def assert_refused(
    k: Keeper, attempt: Callable[[], httpx.Response], *, allowed: tuple[int, ...]
) -> httpx.Response:
    before = everything(k)
    response = attempt()
    assert response.status_code in allowed, response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        detail = response.json()["detail"]
        assert detail and detail[0]["msg"], response.text
    assert everything(k) == before
    return response


def manifest_with(path: str) -> list[dict[str, Any]]:
    return [
        *manifest_of({"index.html": b"<h1>x</h1>"}),
        {"path": path, "size": 1, "sha256": SHA},
    ]


# -- registration and renewal -----------------------------------------------------


@pytest.mark.parametrize("case", sorted(HOSTILE_PATHS))
def test_registration_refuses_hostile_paths(
    uploader: tuple[Keeper, str], case: str
) -> None:
    k, _ = uploader
    assert_refused(
        k,
        lambda: k.client.post(
            f"{PRODUCT_API}/builds",
            headers=k.auth(),
            json={"git_ref": "main", "manifest": manifest_with(HOSTILE_PATHS[case])},
        ),
        allowed=(422,),
    )


@pytest.mark.parametrize(
    "raw",
    [b"\xc0\xae\xc0\xae/x.html", b"\xe0\x80\xae/x.html", b"a\xffb.html"],
    ids=["overlong-dot-2", "overlong-dot-3", "invalid-byte"],
)
def test_registration_refuses_bytes_that_are_not_utf8(
    uploader: tuple[Keeper, str], raw: bytes
) -> None:
    """Overlong UTF-8 is how "." once slipped past decoders; JSON must be
    UTF-8, so such a body is refused whole."""
    k, _ = uploader
    body = b'{"git_ref": "main", "manifest": [{"path": "' + raw
    body += b'", "size": 1, "sha256": "' + SHA.encode() + b'"}]}'
    assert_refused(
        k,
        lambda: k.client.post(
            f"{PRODUCT_API}/builds",
            headers={**k.auth(), "Content-Type": "application/json"},
            content=body,
        ),
        allowed=(400, 422),
    )


def test_registration_refuses_unicode_twins(uploader: tuple[Keeper, str]) -> None:
    k, _ = uploader
    twins = manifest_of({"caf\u00e9.html": b"nfc", "cafe\u0301.html": b"nfd"})
    response = assert_refused(
        k,
        lambda: k.client.post(
            f"{PRODUCT_API}/builds",
            headers=k.auth(),
            json={"git_ref": "main", "manifest": twins},
        ),
        allowed=(422,),
    )
    assert "NFC" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("case", sorted(HOSTILE_PATHS))
def test_renewal_refuses_hostile_paths(uploader: tuple[Keeper, str], case: str) -> None:
    k, _ = uploader
    build = register(k.client, PRODUCT_API, k.auth(), {"index.html": b"<h1>x</h1>"})
    assert_refused(
        k,
        lambda: k.client.post(
            f"{PRODUCT_API}/builds/{build['id']}/uploads",
            headers=k.auth(),
            json={"paths": [HOSTILE_PATHS[case]]},
        ),
        allowed=(422,),
    )


# -- keeper's signed PUT ---------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "..%5c..%5cx",
        "x%00y",
        "%c0%ae%c0%ae",
        "caf%C3%A9.sig",
        "A" * 10_000 + ".B",
        "W10.bad",  # "[]" with a made-up MAC
    ],
    ids=[
        "encoded-slashes",
        "encoded-dotdot",
        "encoded-backslashes",
        "nul",
        "overlong-utf8",
        "non-ascii",
        "very-long",
        "empty-grant",
    ],
)
def test_put_refuses_hostile_tokens(uploader: tuple[Keeper, str], token: str) -> None:
    k, _ = uploader
    assert_refused(
        k,
        lambda: k.client.put(f"/api/uploads/{token}", content=b"<script>x</script>"),
        allowed=(403, 404, 405),
    )


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "0x12"])
def test_put_refuses_a_malformed_content_length(
    uploader: tuple[Keeper, str], length: str
) -> None:
    k, _ = uploader
    build = register(k.client, PRODUCT_API, k.auth(), {"index.html": b"<h1>x</h1>"})
    url = build["uploads"][0]["url"]
    assert_refused(
        k,
        lambda: k.client.put(
            url, content=b"<h1>x</h1>", headers={"Content-Length": length}
        ),
        allowed=(400,),
    )


# -- the LTD Keeper 1.x routes ------------------------------------------------------


@pytest.mark.parametrize(
    # LTD 1.x names folders from the site's root ("/", "/api/"): a leading
    # slash is part of the name there, not a way out (see the next test).
    "case",
    sorted(set(HOSTILE_PATHS) - {"absolute"}),
)
def test_1x_registration_refuses_hostile_folders(
    uploader: tuple[Keeper, str], case: str
) -> None:
    k, token = uploader
    folder = HOSTILE_PATHS[case].rstrip("/") + "/"
    assert_refused(
        k,
        lambda: k.client.post(
            "/products/pipelines/builds/",
            headers=ltd1.basic(token),
            json={"git_refs": ["main"], "directories": ["/", folder]},
        ),
        allowed=(422,),
    )


def test_1x_folders_named_from_the_root_stay_in_the_build(
    uploader: tuple[Keeper, str],
) -> None:
    k, token = uploader
    response = k.client.post(
        "/products/pipelines/builds/",
        headers=ltd1.basic(token),
        json={"git_refs": ["main"], "directories": ["/", "/etc/passwd/"]},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    key = body["post_prefix_urls"]["/etc/passwd/"]["fields"]["key"]
    assert key == f"pipelines/_staging/{body['slug']}/etc/passwd/${{filename}}"


def form_target(k: Keeper, token: str) -> dict[str, Any]:
    build = ltd1.register(k.client, token, "pipelines", ["main"], {})
    target: dict[str, Any] = build["post_prefix_urls"]["/"]
    return target


@pytest.mark.parametrize("case", sorted(HOSTILE_PATHS))
def test_form_post_refuses_hostile_file_names(
    uploader: tuple[Keeper, str], case: str
) -> None:
    k, token = uploader
    target = form_target(k, token)
    assert_refused(
        k,
        lambda: k.client.post(
            target["url"],
            data=target["fields"],
            files={"file": (HOSTILE_PATHS[case], b"<script>x</script>")},
        ),
        allowed=(403,),
    )


@pytest.mark.parametrize("case", sorted(HOSTILE_PATHS))
def test_form_post_refuses_hostile_keys(
    uploader: tuple[Keeper, str], case: str
) -> None:
    k, token = uploader
    target = form_target(k, token)
    folder = target["fields"]["key"].removesuffix("${filename}")
    assert_refused(
        k,
        lambda: k.client.post(
            target["url"],
            data={"key": folder + HOSTILE_PATHS[case]},
            files={"file": ("x.html", b"<script>x</script>")},
        ),
        allowed=(403,),
    )


def test_form_post_reads_invalid_utf8_names_as_latin1_inside_the_folder(
    uploader: tuple[Keeper, str],
) -> None:
    """Starlette decodes a multipart file name that is not UTF-8 as Latin-1,
    so keeper never sees the bytes: an overlong "." (C0 AE) arrives as
    "À®", a plain name, and the file lands in the build's staging folder
    under it. No decoding anywhere turns it into a dot segment; longer
    overlong forms carry C1 control characters and are refused."""
    k, token = uploader
    target = form_target(k, token)
    folder = target["fields"]["key"].removesuffix("${filename}")
    before = everything(k)

    def post(name: bytes) -> httpx.Response:
        body = (
            b'--b\r\nContent-Disposition: form-data; name="key"\r\n\r\n'
            + folder.encode()
            + b'${filename}\r\n--b\r\nContent-Disposition: form-data; name="file"; '
            b'filename="' + name + b'"\r\nContent-Type: text/html\r\n\r\nx\r\n--b--\r\n'
        )
        return k.client.post(
            target["url"],
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )

    two_bytes = post(b"\xc0\xae\xc0\xae")
    three_bytes = post(b"\xe0\x80\xae\xe0\x80\xae")

    assert two_bytes.status_code == 204
    assert three_bytes.status_code == 403
    added = {key for key in everything(k) if key not in before}
    assert added == {f"lsst/{folder}\u00c0\u00ae\u00c0\u00ae"}


def test_form_uploads_that_are_unicode_twins_fail_the_1x_confirmation(
    uploader: tuple[Keeper, str],
) -> None:
    """Each POST alone names a fine file; together they are two names for
    one, which the confirmation refuses, publishing nothing."""
    k, token = uploader
    build = ltd1.register(k.client, token, "pipelines", ["main"], {})
    target = build["post_prefix_urls"]["/"]
    for name in ("caf\u00e9.html", "cafe\u0301.html"):
        r = ltd1.post_file(k.client, target, name, b"<p>twin</p>")
        assert r.status_code == 204, r.text

    response = ltd1.confirm(k.client, token, build)

    assert response.status_code == 422
    assert "NFC" in response.json()["detail"][0]["msg"]
    assert not any("/builds/" in key for key in everything(k))
    assert not any("/_staging/" in key for key in everything(k))
