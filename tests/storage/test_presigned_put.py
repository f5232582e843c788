"""What a presigned PUT pins, and which S3 servers hold a client to it.

Keeper signs the length (``content-length``), the sha256
(``x-amz-checksum-sha256``) and, when the client gave one, the MD5
(``Content-MD5``) into every presigned PUT. AWS S3 checks all three, and
the URL's expiry. The servers the tests run, over real HTTP:

- ``rclone serve s3`` (1.75) checks the signature, so the length and
  every signed header, the MD5 (400 BadDigest) and the expiry (answering
  400 AccessDenied with S3's clock-skew message, where S3 answers 403).
  It does **not** compare the body with ``x-amz-checksum-sha256``: a body
  of the signed length with other bytes is stored unless the MD5 was
  signed too (``ltd upload`` always sends one).
- moto's server (5.2) checks **nothing** of a presigned URL: not the
  signature (its IAM checks read only the Authorization header, and are
  off by default), hence neither the length nor the expiry, nor the MD5,
  nor the checksum (``_get_checksum`` echoes it, per its own TODO).

Whatever a server lets through lands in the build's staging folder only,
and confirmation copies it into the build and checks the copy against
the manifest (tests/api/test_upload_grants_s3.py shows both servers).
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.scan import LocalFile
from conveyor.transfer import Instruction, Transfer
from keeper.storage import S3Store, UploadTarget
from tests.servers import S3Endpoint

from .conftest import fresh_s3_store

pytestmark = pytest.mark.s3server

BODY = b"<h1>the declared page</h1>"
KEY = "builds/b1/index.html"


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def pinned(store: S3Store, *, md5: bool = True, expires_in: int = 300) -> UploadTarget:
    return store.presign_put(
        KEY,
        content_type="text/html",
        expires_in=expires_in,
        content_length=len(BODY),
        content_md5=b64(hashlib.md5(BODY).digest()) if md5 else None,
        checksum_sha256=b64(hashlib.sha256(BODY).digest()),
    )


def send(target: UploadTarget, body: bytes, **headers: str) -> httpx.Response:
    sent = {**target.headers, **headers}
    return httpx.request(target.method, target.url, headers=sent, content=body)


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> tuple[str, S3Store]:
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    return request.param.removesuffix("_s3"), fresh_s3_store(endpoint)


def test_the_signature_covers_length_checksums_and_type(
    server: tuple[str, S3Store],
) -> None:
    _, store = server
    target = pinned(store)

    signed = target.url.split("X-Amz-SignedHeaders=")[1].split("&")[0]
    assert signed.split("%3B") == [
        "content-length",
        "content-md5",
        "content-type",
        "host",
        "x-amz-checksum-sha256",
    ]
    # The length is signed but not handed out: HTTP clients send their own.
    assert target.headers == {
        "Content-Type": "text/html",
        "Content-MD5": b64(hashlib.md5(BODY).digest()),
        "x-amz-checksum-sha256": b64(hashlib.sha256(BODY).digest()),
    }


def test_the_declared_body_is_stored(server: tuple[str, S3Store]) -> None:
    _, store = server

    response = send(pinned(store), BODY)

    assert response.status_code == 200, response.text
    assert store.get(KEY) == BODY


#: (body, URL options, extra headers) -> what each server does with it:
#: None means "stored as sent", a string the error code it answers with.
CASES: dict[
    str, tuple[bytes, dict[str, Any], dict[str, str], dict[str, str | None]]
] = {
    "longer": (BODY + b"<script>", {}, {}, {"rclone": "SignatureDoesNotMatch"}),
    "shorter": (BODY[:-3], {}, {}, {"rclone": "SignatureDoesNotMatch"}),
    "other-bytes-md5-signed": (
        BODY.upper(),
        {},
        {},
        {"rclone": "BadDigest"},
    ),
    # rclone does not check x-amz-checksum-sha256 against the body.
    "other-bytes-sha256-only": (BODY.upper(), {"md5": False}, {}, {"rclone": None}),
    "other-type": (
        BODY,
        {},
        {"Content-Type": "text/plain"},
        {"rclone": "SignatureDoesNotMatch"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_each_server_holds_a_client_to(
    server: tuple[str, S3Store], case: str
) -> None:
    name, store = server
    body, options, headers, refusals = CASES[case]

    response = send(pinned(store, **options), body, **headers)

    refused = refusals.get(name)  # moto refuses nothing
    if refused is None:
        assert response.status_code == 200, response.text
        assert store.get(KEY) == body
    else:
        assert response.status_code in (400, 403), response.text
        assert refused in response.text
        assert store.stat(KEY) is None


def test_an_expired_url_is_refused_by_rclone_only(
    server: tuple[str, S3Store],
) -> None:
    name, store = server
    target = pinned(store, expires_in=1)
    time.sleep(2.1)

    response = send(target, BODY)

    if name == "moto":
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert "<Code>AccessDenied</Code>" in response.text
        assert store.stat(KEY) is None


def test_ltd_renews_a_url_rclone_refuses_as_expired(
    rclone_s3: S3Endpoint, tmp_path: Path
) -> None:
    """The real transfer engine against rclone's answer to an expired URL:
    it asks keeper (here: the renew function) for a fresh one."""
    store = fresh_s3_store(rclone_s3)
    source = tmp_path / "index.html"
    source.write_bytes(BODY)
    local = LocalFile(
        path="index.html",
        source=source,
        size=len(BODY),
        sha256=hashlib.sha256(BODY).hexdigest(),
        md5=hashlib.md5(BODY).hexdigest(),
        content_type="text/html",
    )
    stale = pinned(store, expires_in=1)
    time.sleep(2.1)
    renewed: list[str] = []

    def renew(paths: Any) -> list[Instruction]:
        renewed.extend(paths)
        fresh = pinned(store)
        return [Instruction("index.html", fresh.url, "PUT", fresh.headers)]

    stale_instruction = Instruction("index.html", stale.url, "PUT", stale.headers)
    with Transfer(concurrency=1, renew=renew, backoff_base=0.01) as transfer:
        stats = transfer.send([stale_instruction], {"index.html": local})

    assert renewed == ["index.html"]
    assert stats.renewed == 1 and stats.files == 1
    assert store.get(KEY) == BODY
