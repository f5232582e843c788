"""What a file's path within a build may be.

A path is accepted only if every store keeper writes to can hold it and
every edge serves it as exactly that file: the same rules for a declared
manifest, a form upload's key and a manifest read back from storage. Each
refusal names the rule (and the limit, for lengths) so that a person can
rename the file.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote

from keeper.domain.limits import MAX_PATH_BYTES, MAX_PATH_DEPTH, MAX_SEGMENT_BYTES

#: Names starting with this are the filesystem store's in-flight writes,
#: which it never lists: a file so named would vanish from its build.
RESERVED_PREFIX = ".keeper-tmp-"
#: Errors name at most this many paths before summarising.
_NAMED = 10
#: Percent-decoding is repeated this often: proxies and CDNs that decode a
#: URL twice exist, three times would be a bug of its own.
_DECODE_ROUNDS = 3


class PathError(ValueError):
    """A path keeper cannot publish; the message says why."""


def check_path(path: str) -> str:
    """``path`` unchanged if a build may hold a file there, else PathError.

    ``path`` is relative and ``/``-separated (``api/index.html``).
    """
    if not path:
        raise PathError("the path is empty")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate: JSON's "\ud800" escape, or an undecodable name.
        raise PathError(f"{_show(path)} is not valid Unicode") from None
    if size > MAX_PATH_BYTES:
        raise PathError(
            f"{_show(path)} is {size} bytes long in UTF-8; a path has at most "
            f"{MAX_PATH_BYTES} bytes (MAX_PATH_BYTES)"
        )
    if path.startswith("/"):
        raise PathError(f"{_show(path)} is absolute; paths are relative to the build")
    if "\\" in path:
        raise PathError(f"{_show(path)} has a backslash; folders are separated by '/'")
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise PathError(f"{_show(path)} has a control character (NUL, newline …)")
    segments = path.split("/")
    if len(segments) - 1 > MAX_PATH_DEPTH:
        raise PathError(
            f"{_show(path)} nests {len(segments) - 1} folders deep; at most "
            f"{MAX_PATH_DEPTH} (MAX_PATH_DEPTH)"
        )
    for segment in segments:
        _check_segment(path, segment)
    return path


def _check_segment(path: str, segment: str) -> None:
    if segment in ("", ".", ".."):
        shown = "an empty segment ('//')" if not segment else f"a {segment!r} segment"
        raise PathError(f"{_show(path)} has {shown}")
    decoded = segment
    for _ in range(_DECODE_ROUNDS):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
        # Harmless as a key, but an edge or proxy that decodes the URL
        # again would read a dot segment, a separator or a control
        # character (a NUL, or a line break in a redirect's Location).
        if decoded in (".", "..") or any(
            c in "/\\" or unicodedata.category(c) == "Cc" for c in decoded
        ):
            raise PathError(
                f"{_show(path)} has the segment {segment!r}, which percent-decodes "
                "to a dot segment, a separator or a control character"
            )
    size = len(segment.encode("utf-8"))
    if size > MAX_SEGMENT_BYTES:
        raise PathError(
            f"{_show(path)} has a {size}-byte name; a folder or file name has at "
            f"most {MAX_SEGMENT_BYTES} bytes in UTF-8 (MAX_SEGMENT_BYTES)"
        )
    if segment.startswith(RESERVED_PREFIX):
        raise PathError(
            f"{_show(path)}: names starting with {RESERVED_PREFIX!r} are reserved "
            "for keeper's temporary files"
        )


def check_paths_together(paths: Iterable[str]) -> None:
    """PathError unless one build can hold all of ``paths`` (each already
    passed :func:`check_path`): no path twice, no two paths that differ only
    in Unicode normalisation (``é`` as one code point or two: macOS
    filesystems and many browsers treat them as one name), and no file
    beside a folder of the same name (``q`` and ``q/y.html``: a filesystem
    cannot hold both)."""
    seen: dict[str, str] = {}
    repeated: list[str] = []
    twins: list[str] = []
    for path in paths:
        normal = unicodedata.normalize("NFC", path)
        first = seen.get(normal)
        if first is None:
            seen[normal] = path
        elif first == path:
            repeated.append(path)
        else:
            twins.append(f"{first!r} and {path!r}")
    if repeated:
        raise PathError(
            f"paths repeated in the manifest: {_list(sorted(map(repr, repeated)))}"
        )
    if twins:
        raise PathError(
            "paths that are the same name after Unicode NFC normalisation: "
            + _list(sorted(twins))
        )
    folders = {
        normal[:cut]
        for normal in seen
        for cut in range(len(normal))
        if normal[cut] == "/"
    }
    clashes = sorted(repr(seen[n]) for n in seen if n in folders)
    if clashes:
        raise PathError(
            "files named like a folder of the same build (a store cannot hold "
            f"'q' beside 'q/y.html'): {_list(clashes)}"
        )


def _show(path: str) -> str:
    """The path for a message: quoted, and cut short if very long."""
    shown = path if len(path) <= 80 else path[:60] + "…" + path[-10:]
    return repr(shown)


def _list(items: list[str]) -> str:
    named = ", ".join(items[:_NAMED])
    more = len(items) - _NAMED
    return named + (f" and {more} more" if more > 0 else "")
