"""Which files of a built site are published: the default skips, ``--exclude``
and ``--include``.

Patterns are globs matched against a file's path relative to the site root,
with ``/`` separators (``_static/app.js.map``), close to ``.gitignore``:

- a pattern without ``/`` matches a file or folder *name* at any depth:
  ``*.map`` is every ``.map`` file, ``drafts`` every file or folder named
  ``drafts`` (and all it holds);
- a pattern with a ``/`` inside is matched from the site root (a leading
  ``/`` says so explicitly): ``api/*.html``, ``/robots.txt``; a folder it
  matches takes everything under it along (``api/generated``);
- a trailing ``/`` matches folders only: ``drafts/`` skips every folder
  named ``drafts`` and all it holds, not a file named ``drafts``;
- ``*`` and ``?`` match within one name, ``[abc]`` / ``[!abc]`` one
  character of (not of) a set; ``**`` as a whole segment spans any number
  of folders (``docs/**/*.txt``, ``drafts/**``);
- matching is case-sensitive, as URLs are.

A file is skipped when a default or an exclude matches it and no include
does: an include always wins, whatever the order the options came in, and it
never narrows what is published (a file no pattern matches is published).
Sphinx's ``.doctrees/`` (pickled doctrees, read back only by the next build)
and ``.buildinfo`` (its config hash) change on every rebuild and mean nothing
to readers, so they are skipped by default, at any depth;
``include=[".doctrees/"]`` (any depth; ``".doctrees/**"`` is the top one
only) or ``include=[".buildinfo"]`` publishes them again, and
:meth:`Selection.everything` skips nothing.

Nothing here touches the filesystem: :mod:`conveyor.scan` asks
:meth:`Selection.skip_reason` about every path it finds.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conveyor.errors import BadPattern

#: Skipped unless an include says otherwise.
DEFAULT_EXCLUDES = (".doctrees/", ".buildinfo")
#: Bounds on what a command line or a library caller may pass.
MAX_PATTERN_LENGTH = 1024
MAX_PATTERNS = 100


@dataclass(frozen=True)
class Rule:
    pattern: str
    #: How the upload summary names this rule: the default's pattern, or the
    #: option as it would be typed (``--exclude '*.map'``).
    label: str
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.search(path) is not None


@dataclass(frozen=True)
class SkippedFile:
    path: str
    size: int
    #: The :attr:`Rule.label` of the first default or exclude that matched.
    rule: str


@dataclass(frozen=True)
class Selection:
    excludes: tuple[Rule, ...] = ()
    includes: tuple[Rule, ...] = ()

    @classmethod
    def build(
        cls,
        exclude: Iterable[str] = (),
        include: Iterable[str] = (),
        *,
        defaults: bool = True,
    ) -> Selection:
        """The defaults (unless ``defaults`` is false), then ``exclude``;
        ``include`` re-includes what any of them would skip. Raises
        :class:`BadPattern` for an empty, overlong or malformed pattern, or
        more than :data:`MAX_PATTERNS` excludes or includes."""
        exclude, include = list(exclude), list(include)
        check_patterns(exclude, "--exclude")
        check_patterns(include, "--include")
        excludes = [_rule(p, p) for p in DEFAULT_EXCLUDES] if defaults else []
        excludes += [_rule(p, f"--exclude {shlex.quote(p)}") for p in exclude]
        includes = [_rule(p, f"--include {shlex.quote(p)}") for p in include]
        return cls(tuple(excludes), tuple(includes))

    @classmethod
    def everything(cls) -> Selection:
        """Publish every file, Sphinx's leftovers included."""
        return cls()

    def skip_reason(self, path: str) -> str | None:
        """The label of the rule that skips ``path`` (relative, ``/``
        separated), or None when it is published."""
        for rule in self.excludes:
            if rule.matches(path):
                break
        else:
            return None
        if any(include.matches(path) for include in self.includes):
            return None
        return rule.label


def check_patterns(patterns: Sequence[str], option: str) -> None:
    """Raise :class:`BadPattern` unless every pattern compiles and there are
    at most :data:`MAX_PATTERNS` of them."""
    if len(patterns) > MAX_PATTERNS:
        raise BadPattern(
            f"{option} was given {len(patterns)} times; at most {MAX_PATTERNS} "
            "patterns are accepted (match more with one glob, e.g. '*.map')"
        )
    for pattern in patterns:
        compile_pattern(pattern)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression that finds ``pattern``'s matches in a path."""
    if not pattern.strip():
        raise BadPattern("empty pattern; give a glob such as '*.map' or 'drafts/'")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise BadPattern(
            f"pattern {pattern[:40]!r}… is {len(pattern)} characters long; "
            f"at most {MAX_PATTERN_LENGTH} are accepted"
        )
    if "\\" in pattern:
        raise BadPattern(
            f"pattern {pattern!r} has a backslash; separate folders with '/' "
            "(published paths never contain a backslash)"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in pattern):
        raise BadPattern(f"pattern {pattern!r} has a control character")
    body = pattern
    folders_only = body.endswith("/")
    anchored = body.startswith("/")
    body = body.strip("/")
    segments = body.split("/")
    if not body or any(s in ("", ".", "..") for s in segments):
        raise BadPattern(
            f"pattern {pattern!r} has an empty, '.' or '..' part; patterns are "
            "relative to the site root, e.g. 'api/*.html' or 'drafts/'"
        )
    if len(segments) == 1 and not anchored:
        # A name at any depth: one whole segment of the path.
        after = "/" if folders_only else "(?:/|$)"
        return _compiled(pattern, f"(?:^|/){_name(segments[0])}{after}")
    # G0/**/G1/**/…/Gn: each ** is any number of folders. Every G between
    # two ** is matched where it first fits, atomically: a later fit never
    # matches more, and backtracking into it could take exponential time.
    groups: list[list[str]] = [[]]
    for segment in segments:
        if segment != "**":
            groups[-1].append(_name(segment))
        elif groups[-1] or len(groups) == 1:  # a run of ** is one
            groups.append([])
    regex = "/".join(groups[0]) + ("/" if len(groups) > 1 and groups[0] else "")
    for middle in groups[1:-1]:
        regex += "(?>(?:[^/]+/)*?" + "/".join(middle) + "/)"
    if len(groups) > 1:
        regex += "(?:[^/]+/)*" + "/".join(groups[-1]) if groups[-1] else ".+"
    # A matched folder takes everything under it along.
    after = "/.+" if folders_only else "(?:/.+)?"
    return _compiled(pattern, "^" + regex + after + "$")


def _compiled(pattern: str, regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:  # a set such as [z-a]
        raise BadPattern(f"pattern {pattern!r} is not a valid glob: {exc}") from exc


def _rule(pattern: str, label: str) -> Rule:
    return Rule(pattern, label, compile_pattern(pattern))


def _name(segment: str) -> str:
    """One path segment's glob as a regular expression that never crosses
    a '/'. As in :func:`fnmatch.translate`, what lies between two ``*`` is
    matched where it first fits, atomically, so no name takes long."""
    chunks: list[str] = [""]
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            if chunks[-1] or len(chunks) == 1:  # a run of * is one
                chunks.append("")
        elif c == "?":
            chunks[-1] += "[^/]"
        elif c == "[" and (end := _class_end(segment, i)) is not None:
            body = segment[i + 1 : end]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            chars = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
            chunks[-1] += f"[^/{chars}]" if negate else f"[{chars}]"
            i = end
        else:
            chunks[-1] += re.escape(c)
        i += 1
    if len(chunks) == 1:
        return chunks[0]
    middles = "".join(f"(?>[^/]*?{chunk})" for chunk in chunks[1:-1])
    return chunks[0] + middles + "[^/]*" + chunks[-1]


def _class_end(segment: str, start: int) -> int | None:
    """Where the ``[...]`` set opened at ``start`` closes (a ``]`` right
    after the opening, or after its ``!``, belongs to the set); None when
    it never closes, and the ``[`` is literal."""
    j = start + 1
    if j < len(segment) and segment[j] in "!^":
        j += 1
    if j < len(segment) and segment[j] == "]":
        j += 1
    end = segment.find("]", j)
    return None if end < 0 else end


def describe_skipped(skipped: Sequence[SkippedFile]) -> str:
    """``skipped 123 files (4.5 MB): .doctrees/ (120), .buildinfo (1),
    --exclude '*.map' (2)``; empty when nothing was skipped."""
    if not skipped:
        return ""
    counts: dict[str, int] = {}
    for f in skipped:
        counts[f.rule] = counts.get(f.rule, 0) + 1
    # The most files first; on a tie the defaults before the options.
    ordered = sorted(counts.items(), key=lambda c: (-c[1], c[0].startswith("--"), c[0]))
    noun = "file" if len(skipped) == 1 else "files"
    size = human_size(sum(f.size for f in skipped))
    rules = ", ".join(f"{label} ({n})" for label, n in ordered)
    return f"skipped {len(skipped)} {noun} ({size}): {rules}"


def human_size(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("KB", "MB"):
        size /= 1000
        if size < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"
