"""Read py-spy's raw (collapsed-stack) recordings: where the samples went.

Each line of a recording is ``frame;frame;…;frame COUNT``, outermost frame
first, and each frame is ``function (file:line)``. The summary gives, per
recording, the project's own functions by inclusive share (time spent in
them or anything they call) and the hottest leaf functions anywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

#: Frames of the project's own packages.
_OURS = re.compile(r"[ (/](keeper|conveyor|ltd)/\S+\.py")
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
#: Threads waiting (a pool for work, a loop for events, anyone for a lock)
#: can still be sampled as busy; they say nothing about where work goes.
_IDLE = (
    "wait (threading.py",
    "__enter__ (threading.py",
    "acquire (threading.py",
    "_worker (concurrent/futures/thread.py",
    "select (",
)


def summarize(folder: Path, *, top: int = 12) -> str:
    parts = []
    for path in sorted(folder.glob("*.txt")):
        parts.append(summarize_file(path, top=top))
    return "\n\n".join(parts) if parts else f"no py-spy recordings in {folder}"


def summarize_file(path: Path, *, top: int = 12) -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in _IDLE):
            continue
        count = int(count_text)
        total += count
        leaf[_short(frames[-1])] += count
        for name in {_short(f) for f in frames if _OURS.search(f)}:
            inclusive[name] += count
    if not total:
        return f"{path.name}: no busy samples"
    lines = [f"{path.name}: {total} busy samples"]
    lines.append("  project functions, inclusive:")
    for name, count in inclusive.most_common(top):
        lines.append(f"    {count / total:6.1%}  {name}")
    lines.append("  hottest leaf frames:")
    for name, count in leaf.most_common(top):
        lines.append(f"    {count / total:6.1%}  {name}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``func (path/to/pkg/module.py:12)`` → ``func (pkg/module.py)``."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = "/".join(match.group("file").split("/")[-2:])
    return f"{match.group('func')} ({file})"
