"""Which storage URLs an organization may be given.

An org's ``storage_url`` is read each time its store is first needed, by
every keeper process; a URL that cannot become a store would turn each of
those requests into a 500. So it is checked when it is written, by the same
rules :func:`keeper.storage.factory.store_from_url` applies, and more
narrowly: only the schemes below, and only absolute folders.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from botocore.exceptions import BotoCoreError

from keeper.services.errors import Invalid
from keeper.storage.factory import store_from_url

#: The stores keeper has; a plain path is refused so that what an org
#: points at is always spelled out.
ORG_STORE_SCHEMES = ("s3", "file")
_ENDPOINT_SCHEMES = ("http", "https")
_FORMS = "s3://BUCKET/PREFIX?endpoint_url=…&region=… or file:///ABSOLUTE/PATH"

_SEGMENT = r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,62}"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?"
_OPTION = (
    rf"(?:endpoint_url=https?://{_LABEL}(?:\.{_LABEL}){{0,3}}(?::[1-9][0-9]{{0,3}})?"
    r"|region=[a-z][a-z0-9-]{0,28}[a-z0-9]"
    r"|addressing_style=(?:path|virtual|auto)"
    r"|presigned_post=(?:true|false)"
    r"|direct_uploads=(?:true|false))"
)
#: What :func:`check_storage_url` takes, as a pattern for the API's schema
#: (it says no more than the check does; the check says why it refuses).
STORAGE_URL_PATTERN = (
    rf"^(?:s3://[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9](?:/{_SEGMENT})*"
    rf"(?:\?{_OPTION}(?:&{_OPTION})*)?|file://(?:/{_SEGMENT})+)$"
)


def check_storage_url(url: str) -> str:
    """``url`` if an org's store can be made from it; :class:`Invalid`
    naming the reason otherwise."""
    if not url.strip():
        raise Invalid("storage_url is empty: send null for keeper's own store")
    if url != url.strip() or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Invalid("storage_url must not contain spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ORG_STORE_SCHEMES:
        # A one-letter "scheme" is a Windows drive: C:\docs.
        given = f"'{scheme}://'" if len(scheme) > 1 else "a plain path"
        raise Invalid(f"storage_url must be {_FORMS}, not {given}")
    if scheme == "file":
        _check_folder(url, parts.netloc, parts.path, parts.query + parts.fragment)
        return url
    endpoint = dict(parse_qsl(parts.query, keep_blank_values=True)).get("endpoint_url")
    if endpoint:
        found = urlsplit(endpoint)
        if found.scheme.lower() not in _ENDPOINT_SCHEMES or not found.hostname:
            raise Invalid(
                f"storage_url's endpoint_url must be an http:// or https:// URL "
                f"with a host, not {endpoint!r}"
            )
    try:
        # Makes the S3 client without calling the network: the URL's
        # options, the bucket and the prefix are checked as keeper will.
        store_from_url(url)
    except (ValueError, BotoCoreError) as exc:
        raise Invalid(f"storage_url cannot be used: {exc}") from exc
    return url


def _check_folder(url: str, host: str, path: str, extra: str) -> None:
    if extra:
        raise Invalid(f"a file storage_url takes no query or fragment: {url!r}")
    if host or not path.startswith("/"):
        raise Invalid(
            "a file storage_url needs an absolute path (file:///srv/docs): "
            "each keeper process would resolve a relative one against its "
            "own working directory"
        )
    if path.rstrip("/") == "":
        raise Invalid("a file storage_url cannot be the root folder '/'")
