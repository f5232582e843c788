"""How a failed verification names the files at fault."""

from __future__ import annotations

#: How many faulty files an error message names before summarising.
_NAMED_FAULTS = 20


def describe_faults(faults: list[str]) -> str:
    named = ", ".join(faults[:_NAMED_FAULTS])
    more = len(faults) - _NAMED_FAULTS
    tail = f" and {more} more" if more > 0 else ""
    return f"{len(faults)} file(s) missing or not as in the manifest: {named}{tail}"
