"""Object storage for builds and generated metadata: S3 or a local folder."""

from .base import (
    ContentMismatch,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PostTarget,
    StorageError,
    UploadTarget,
    validate_dir_prefix,
    validate_key,
    validate_prefix,
)
from .factory import PrefixedStore, child, store_from_url
from .filesystem import FilesystemStore
from .s3 import S3Store

__all__ = [
    "ContentMismatch",
    "FilesystemStore",
    "InvalidKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "PostTarget",
    "PrefixedStore",
    "S3Store",
    "StorageError",
    "UploadTarget",
    "child",
    "store_from_url",
    "validate_dir_prefix",
    "validate_key",
    "validate_prefix",
]
