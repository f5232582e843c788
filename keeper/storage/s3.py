"""An object store in an S3 bucket (AWS, or any S3-compatible server)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import mimetypes
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, Literal

import boto3
import urllib3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import (
    CHUNK_SIZE,
    ContentMismatch,
    ObjectInfo,
    ObjectNotFound,
    PostTarget,
    StorageError,
    UploadTarget,
    validate_dir_prefix,
    validate_key,
    validate_prefix,
)

AddressingStyle = Literal["path", "virtual", "auto"]

#: Error codes S3 and S3-compatible servers use for a missing object. HEAD
#: has no body, so botocore can only report the status code.
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})

#: DeleteObjects accepts at most this many keys per request.
_DELETE_BATCH = 1000


def make_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    addressing_style: AddressingStyle | None = None,
) -> Any:
    """A boto3 S3 client tuned for many small concurrent transfers."""
    config = Config(
        signature_version="s3v4",
        # Uploads and server-side copies run from thread pools; the default
        # of 10 connections would make them queue.
        max_pool_connections=32,
        retries={"mode": "standard", "max_attempts": 5},
        s3={"addressing_style": addressing_style} if addressing_style else None,
        # botocore >= 1.36 adds CRC32 trailers to every upload by default;
        # several S3-compatible servers reject them, and S3 does not need
        # them when the request is signed.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


class S3Store:
    """Objects at ``<prefix>/<key>`` in one bucket, through one shared client."""

    supports_presigned_put = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        addressing_style: AddressingStyle | None = None,
        presigned_post: bool = True,
        direct_uploads: bool = False,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3Store needs a bucket name")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        self.bucket = bucket
        self.prefix = prefix
        # Some S3-compatible servers (rclone serve s3) refuse POST Object;
        # keeper then receives form uploads itself.
        self.supports_presigned_post = presigned_post
        # Only for servers that refuse a body whose MD5 is not the signed
        # Content-MD5 (AWS S3, rclone, MinIO; not moto): see base.py.
        self.direct_uploads = direct_uploads
        if client is None:
            # Buckets on a local or custom endpoint are rarely resolvable as
            # <bucket>.<host>, so default to path-style addressing there.
            if addressing_style is None and endpoint_url:
                addressing_style = "path"
            client = make_client(
                endpoint_url=endpoint_url,
                region=region,
                access_key=access_key,
                secret_key=secret_key,
                addressing_style=addressing_style,
            )
        self.client = client

    def __repr__(self) -> str:
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"S3Store({where!r}, endpoint={self.client.meta.endpoint_url!r})"

    # -- writing -----------------------------------------------------------

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str | None = None
    ) -> None:
        full = self._full(key)
        content_type = content_type or _guess_type(key)
        with self._errors("put", key):
            if isinstance(data, bytes | bytearray | memoryview):
                self.client.put_object(
                    Bucket=self.bucket, Key=full, Body=data, ContentType=content_type
                )
            else:
                # Streams may be large or unseekable: the transfer manager
                # switches to multipart and never needs the whole body.
                self.client.upload_fileobj(
                    data, self.bucket, full, ExtraArgs={"ContentType": content_type}
                )

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        source = {"Bucket": self.bucket, "Key": self._full(src)}
        metadata: dict[str, str] = {"MetadataDirective": "COPY"}
        if content_type is not None:
            metadata = {"MetadataDirective": "REPLACE", "ContentType": content_type}
        with self._errors("copy", src):
            self.client.copy_object(
                Bucket=self.bucket, Key=self._full(dst), CopySource=source, **metadata
            )

    def copy_verified(
        self, src: str, dst: str, *, sha256: str, content_type: str | None = None
    ) -> None:
        full = self._full(src)
        with self._errors("copy", src):
            response = self.client.get_object(Bucket=self.bucket, Key=full)
        etag = response.get("ETag")
        digest = hashlib.sha256()
        size = 0
        for chunk in self._stream(src, response["Body"]):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != sha256 or not etag:
            raise ContentMismatch(src, sha256, size)
        # Copy the version that was hashed, not whatever replaced it since.
        metadata: dict[str, str] = {"MetadataDirective": "COPY"}
        if content_type is not None:
            metadata = {"MetadataDirective": "REPLACE", "ContentType": content_type}
        try:
            with self._errors("copy", src):
                copied = self.client.copy_object(
                    Bucket=self.bucket,
                    Key=self._full(dst),
                    CopySource={"Bucket": self.bucket, "Key": full},
                    CopySourceIfMatch=etag,
                    **metadata,
                )
        except StorageError as exc:
            if _code(exc.__cause__) == "PreconditionFailed":
                raise ContentMismatch(src, sha256) from exc
            raise
        # A server that ignores the condition still says what it copied.
        if copied.get("CopyObjectResult", {}).get("ETag", etag) != etag:
            with contextlib.suppress(StorageError):
                self.delete(dst)
            raise ContentMismatch(src, sha256)

    def delete(self, key: str) -> None:
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    def delete_prefix(self, prefix: str) -> int:
        root = f"{self.prefix}/" if self.prefix else ""
        batch: list[str] = []
        removed = 0
        for info in self.list(prefix):
            # The key as listed, not validated again: S3 holds keys no store
            # API would write ("a/../b", "a//b"), and whoever could write one
            # (a presigned POST takes any key under its folder) must not be
            # able to make the folder impossible to remove.
            batch.append(root + info.key)
            if len(batch) == _DELETE_BATCH:
                removed += self._delete_batch(batch)
                batch = []
        if batch:
            removed += self._delete_batch(batch)
        return removed

    # -- reading -----------------------------------------------------------

    def get(self, key: str) -> bytes:
        with self._errors("get", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
            body: bytes = response["Body"].read()
        return body

    def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        full = self._full(key)
        if start is not None and start < 0:
            raise ValueError(f"range start must be >= 0, not {start}")
        if end is not None and end < (start or 0):
            raise ValueError(f"range end {end} is before its start {start or 0}")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if start is not None or end is not None:
            params["Range"] = f"bytes={start or 0}-{'' if end is None else end}"
        try:
            with self._errors("open", key):
                response = self.client.get_object(**params)
        except StorageError as exc:
            if _code(exc.__cause__) == "InvalidRange":
                # Start lies past the end: the protocol promises no bytes.
                return iter(())
            raise
        return self._stream(key, response["Body"])

    def stat(self, key: str) -> ObjectInfo | None:
        full = self._full(key)
        try:
            with self._errors("stat", key):
                head = self.client.head_object(Bucket=self.bucket, Key=full)
        except ObjectNotFound:
            return None
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            etag=head.get("ETag"),
            content_type=head.get("ContentType"),
            last_modified=head.get("LastModified"),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=root + prefix):
                for item in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=item["Key"][len(root) :],
                        size=item["Size"],
                        etag=item.get("ETag"),
                        last_modified=item.get("LastModified"),
                    )

    def sha256(self, key: str) -> str:
        # Verification hashes every new object of a build: through a
        # presigned GET on a plain connection pool, which costs about a
        # third less CPU per object than boto3's own request pipeline.
        url = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._full(key)},
            ExpiresIn=300,
        )
        try:
            response = self._http.request("GET", url, preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise StorageError(f"read {key!r} in {self.bucket!r}: {exc}") from exc
        try:
            if response.status == 404:
                raise ObjectNotFound(key)
            if response.status != 200:
                raise StorageError(
                    f"S3 read {self.bucket}/{key!r} failed: HTTP {response.status} "
                    f"{response.data[:200].decode('utf-8', 'replace')}"
                )
            digest = hashlib.sha256()
            for chunk in response.stream(CHUNK_SIZE):
                digest.update(chunk)
            return digest.hexdigest()
        except urllib3.exceptions.HTTPError as exc:
            raise StorageError(f"read {key!r} in {self.bucket!r}: {exc}") from exc
        finally:
            response.release_conn()

    @functools.cached_property
    def _http(self) -> urllib3.PoolManager:
        return urllib3.PoolManager(
            maxsize=32, retries=urllib3.Retry(total=3, backoff_factor=0.2)
        )

    def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        expires_in: int,
        content_length: int | None = None,
        content_md5: str | None = None,
        checksum_sha256: str | None = None,
    ) -> UploadTarget:
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._full(key),
            "ContentType": content_type,
        }
        headers = {"Content-Type": content_type}
        if content_length is not None:
            # Signed, never handed out: every HTTP client sends the length
            # of the body it sends, and the signature then fails for any
            # other length.
            params["ContentLength"] = content_length
        if content_md5 is not None:
            params["ContentMD5"] = content_md5
            headers["Content-MD5"] = content_md5
        if checksum_sha256 is not None:
            params["ChecksumSHA256"] = checksum_sha256
            headers["x-amz-checksum-sha256"] = checksum_sha256
        self._can_sign(key)
        with self._errors("presign", key):
            url = self.client.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=expires_in
            )
        # The headers are part of the signature: the client must send them
        # as they are, and S3 checks the body against Content-MD5 and the
        # SHA-256 checksum.
        return UploadTarget(url=url, method="PUT", headers=headers)

    def presign_post(
        self, prefix: str, *, expires_in: int, max_bytes: int | None = None
    ) -> PostTarget:
        validate_dir_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""
        folder = root + prefix
        # S3 enforces every condition of the signed policy: the key must
        # stay under the folder, and Content-Type is the client's to choose
        # (every form field needs a condition, or S3 refuses the upload).
        conditions: list[Any] = [
            ["starts-with", "$key", folder],
            ["starts-with", "$Content-Type", ""],
            {"success_action_status": "204"},
        ]
        if max_bytes is not None:
            conditions.append(["content-length-range", 0, max_bytes])
        self._can_sign(prefix or "/")
        with self._errors("presign", prefix or "/"):
            post = self.client.generate_presigned_post(
                self.bucket,
                folder + "${filename}",
                Fields={"success_action_status": "204"},
                Conditions=conditions,
                ExpiresIn=expires_in,
            )
        return PostTarget(url=post["url"], fields=dict(post["fields"]))

    # -- administration ----------------------------------------------------

    def create_bucket_if_missing(self) -> bool:
        """Create the bucket unless it exists; True when it was created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise _storage_error("head bucket", self.bucket, exc) from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot reach bucket {self.bucket!r}: {exc}") from exc
        params: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        # us-east-1 is the one region that refuses an explicit constraint.
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**params)
        except ClientError as exc:
            if _code(exc) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise _storage_error("create bucket", self.bucket, exc) from exc
        return True

    # -- internals ---------------------------------------------------------

    def _full(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _delete_batch(self, keys: Sequence[str]) -> int:
        with self._errors("delete", keys[0]):
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorageError(
                f"could not delete {len(errors)} of {len(keys)} objects in "
                f"{self.bucket!r}, first {first.get('Key')!r}: "
                f"{first.get('Code')} {first.get('Message', '')}".rstrip()
            )
        return len(keys)

    def _stream(self, key: str, body: Any) -> Iterator[bytes]:
        try:
            with self._errors("read", key):
                yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    def _can_sign(self, key: str) -> None:
        """Raise unless the client has credentials to sign with: botocore
        resolves them when the client is made, and presigning a POST
        without any fails deep inside it with an AttributeError."""
        signer = getattr(self.client, "_request_signer", None)
        if signer is not None and getattr(signer, "_credentials", 1) is None:
            raise StorageError(
                f"presign {key!r}: no AWS credentials for S3 bucket "
                f"{self.bucket!r} (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or a profile or role)"
            )

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turn botocore and boto3 failures into this package's errors."""
        try:
            yield
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise ObjectNotFound(key) from exc
            raise _storage_error(action, f"{self.bucket}/{key}", exc) from exc
        except S3UploadFailedError as exc:
            raise StorageError(f"{action} {key!r} in {self.bucket!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(
                f"{action} {key!r}: cannot talk to S3 bucket {self.bucket!r}: {exc}"
            ) from exc


def _code(exc: BaseException | None) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _storage_error(action: str, what: str, exc: ClientError) -> StorageError:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = error.get("Message") or ""
    return StorageError(
        f"S3 {action} {what!r} failed: {error.get('Code', '?')} "
        f"(HTTP {status}) {message}".rstrip()
    )


def _guess_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"
