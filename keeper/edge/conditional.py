"""Conditional and partial GETs (RFC 9110 §13 and §14), as the built-in
edge answers them: one ETag per file, single byte ranges."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unsatisfiable:
    """A range that lies wholly past the end: 416."""


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

    Whatever this edge does not serve as a range gets the whole file: other
    units, malformed values and several ranges (allowed by RFC 9110, which
    lets a server ignore ``Range``).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not _digits(first_text, last_text):
        return None
    if not first_text:  # bytes=-N: the last N bytes
        if not last_text:
            return None
        length = int(last_text)
        if length == 0 or size == 0:
            return Unsatisfiable()
        return max(size - length, 0), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        return Unsatisfiable()
    return first, min(int(last_text), size - 1) if last_text else size - 1


def _digits(*texts: str) -> bool:
    return all(text == "" or (text.isascii() and text.isdigit()) for text in texts)
