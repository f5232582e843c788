"""Conditional and partial GETs (RFC 9110 §13 and §14), as the built-in
edge answers them: one ETag per file, single byte ranges."""

from __future__ import annotations

from dataclasses import dataclass

from keeper.domain.limits import MAX_RANGE_POSITION


@dataclass(frozen=True)
class Unsatisfiable:
    """A range that lies wholly past the end, or that cannot be read: 416."""


#: Inclusive ``(first, last)`` byte positions, :class:`Unsatisfiable`, or
#: None for the whole file.
ByteRange = tuple[int, int] | Unsatisfiable | None


def etag_matches(if_none_match: str, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, as that
    header asks) or is ``*``."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(
        tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(",")
    )


def byte_range(header: str, size: int) -> ByteRange:
    """The one range ``Range: bytes=…`` asks for in a file of ``size`` bytes.

    As nginx and Varnish answer, so that every edge agrees:

    - a header that does not start with ``bytes=`` (any case; another unit,
      or spaces around ``=``) or has nothing after it is ignored: the whole
      file (RFC 9110 §14.2 has a server ignore units it does not know);
    - several ranges get the whole file too (RFC 9110 lets a server ignore
      them; answering each would multiply the bytes a request costs);
    - a single range that is malformed (``abc``, ``-5-10``, ``9-3``,
      ``-``) or names a position past :data:`MAX_RANGE_POSITION` is
      unsatisfiable, like one wholly past the end of the file.
    """
    if header[:6].lower() != "bytes=" or not header[6:].strip():
        return None
    spec = header[6:]
    if "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not _digits(first_text, last_text):
        return Unsatisfiable()
    if not first_text:  # bytes=-N: the last N bytes
        if not last_text or int(last_text) > MAX_RANGE_POSITION:
            return Unsatisfiable()
        length = int(last_text)
        if length == 0 or size == 0:
            return Unsatisfiable()
        return max(size - length, 0), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else None
    if max(first, last or 0) > MAX_RANGE_POSITION:
        return Unsatisfiable()
    if last is not None and last < first:
        return Unsatisfiable()
    if first >= size:
        return Unsatisfiable()
    return first, size - 1 if last is None else min(last, size - 1)


def _digits(*texts: str) -> bool:
    return all(text == "" or (text.isascii() and text.isdigit()) for text in texts)
