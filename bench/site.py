"""A Sphinx-like built site, generated deterministically from a seed.

Sizes follow what real Sphinx output looks like: thousands of small HTML
pages (most 5–40 KB) with their ``_sources`` text, a few dozen JS/CSS files
(50–300 KB), figures (PNG and SVG, 20 KB–2 MB, most near the small end), a
handful of fonts and one ``searchindex.js`` of about 2 MB. Text is random
words from a random vocabulary, so no transfer gains from content that
compresses to nothing; images and fonts are random bytes, as compressed
formats are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

KB = 1000
MB = 1000 * KB

_SECTIONS = ("api", "guide", "tutorials", "reference", "modules", "changes")
_HTML_HEAD = """<!DOCTYPE html>
<html lang="en" data-content_root="{root}">
<head>
<meta charset="utf-8" /><meta name="viewport" content="width=device-width" />
<title>{title} &#8212; Pipelines documentation</title>
<link rel="stylesheet" type="text/css" href="{root}_static/pygments.css" />
<link rel="stylesheet" type="text/css" href="{root}_static/css/theme.css" />
<script src="{root}_static/documentation_options.js"></script>
<script src="{root}_static/doctools.js"></script>
<script src="{root}_static/sphinx_highlight.js"></script>
<link rel="index" title="Index" href="{root}genindex.html" />
<link rel="search" title="Search" href="{root}search.html" />
</head>
<body>
<nav class="bd-sidebar"><ul><li><a href="{root}index.html">Home</a></li></ul></nav>
<main class="bd-content"><article class="bd-article" role="main">
<section id="{anchor}"><h1>{title}</h1>
"""
_HTML_FOOT = """</section></article></main>
<footer class="bd-footer"><p>&#169; Copyright 2024, the authors.</p></footer>
</body></html>
"""


@dataclass
class SiteFile:
    path: str
    size: int
    kind: str


@dataclass
class GeneratedSite:
    root: Path
    files: list[SiteFile]
    seed: int
    _vocabulary: list[str] = field(repr=False, default_factory=list)

    @property
    def total_size(self) -> int:
        return sum((self.root / f.path).stat().st_size for f in self.files)

    @property
    def directories(self) -> int:
        return len({f.path.rpartition("/")[0] for f in self.files})

    def change(self, count: int, generation: int) -> dict[str, bytes]:
        """Rewrite ``count`` files with new content, as an edit and rebuild
        would: ``searchindex.js`` plus random pages. Returns the old bytes
        of each, for :meth:`restore`."""
        rng = random.Random(f"{self.seed}-change-{generation}")
        pages = [f for f in self.files if f.kind == "html"]
        chosen = [f for f in self.files if f.path == "searchindex.js"][:count]
        chosen += rng.sample(pages, min(count - len(chosen), len(pages)))
        old: dict[str, bytes] = {}
        for f in chosen:
            target = self.root / f.path
            old[f.path] = target.read_bytes()
            target.write_bytes(_content(rng, self._vocabulary, f))
        return old

    def restore(self, old: dict[str, bytes]) -> None:
        for path, data in old.items():
            (self.root / path).write_bytes(data)


def generate_site(root: Path, *, files: int, size: int, seed: int) -> GeneratedSite:
    """Write a site of ``files`` files and about ``size`` bytes under ``root``."""
    if files < 20:
        raise ValueError("a site needs at least 20 files")
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    plan = _plan(rng, files, size)
    for f in plan:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_content(rng, vocabulary, f))
    return GeneratedSite(root, plan, seed, vocabulary)


def _vocabulary(rng: random.Random, words: int = 4000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        "".join(rng.choices(letters, k=rng.choice((2, 3, 4, 5, 6, 7, 8, 9, 11))))
        for _ in range(words)
    ]


def _log_uniform(rng: random.Random, low: float, high: float, skew: float = 1.0) -> int:
    """Between ``low`` and ``high``; ``skew`` > 1 crowds values near ``low``."""
    return int(low * (high / low) ** (rng.random() ** skew))


def _plan(rng: random.Random, count: int, size: int) -> list[SiteFile]:
    fonts = max(2, round(count * 0.0012))
    assets = max(4, round(count * 0.012))
    images = max(4, round(count * 0.03))
    fixed = ["index.html", "genindex.html", "search.html", "py-modindex.html"]
    rest = count - fonts - assets - images - len(fixed) - 2
    pages = round(rest * 0.75)
    sources = rest - pages

    plan: list[SiteFile] = [
        SiteFile("searchindex.js", 2 * MB, "searchindex"),
        SiteFile("objects.inv", _log_uniform(rng, 40 * KB, 160 * KB), "binary"),
    ]
    plan += [SiteFile(p, _log_uniform(rng, 5 * KB, 40 * KB), "html") for p in fixed]
    for i in range(fonts):
        name = f"_static/fonts/font-{i}.woff2"
        plan.append(SiteFile(name, _log_uniform(rng, 40 * KB, 160 * KB), "font"))
    for i in range(assets):
        ext = "js" if i % 2 else "css"
        name = f"_static/{ext}/asset-{i}.{ext}"
        plan.append(SiteFile(name, _log_uniform(rng, 50 * KB, 300 * KB), ext))
    for i in range(images):
        ext = "svg" if i % 5 == 0 else "png"
        size_ = _log_uniform(rng, 20 * KB, 2 * MB, skew=3.0)
        plan.append(SiteFile(f"_images/figure-{i}.{ext}", size_, ext))
    # Pages spread over a two-level tree of about 50 pages per folder.
    folders = max(1, pages // 50)
    page_paths = []
    for i in range(pages):
        folder = i % folders
        section = _SECTIONS[folder % len(_SECTIONS)]
        path = f"{section}/part-{folder}/page-{i}.html"
        page_paths.append(path)
        plan.append(SiteFile(path, _log_uniform(rng, 5 * KB, 40 * KB), "html"))
    for path in rng.sample(page_paths, sources):
        source = "_sources/" + path.removesuffix(".html") + ".rst.txt"
        plan.append(SiteFile(source, _log_uniform(rng, 1 * KB, 12 * KB), "text"))

    # Fit the total: adjust the pages and sources, as a bigger or smaller
    # project would have; if the rest alone exceeds the target, scale all.
    text = [f for f in plan if f.kind in ("html", "text")]
    other = sum(f.size for f in plan) - sum(f.size for f in text)
    if other < size * 0.6:
        factor = (size - other) / sum(f.size for f in text)
        scaled = text
    else:
        factor = size / sum(f.size for f in plan)
        scaled = plan
    for f in scaled:
        f.size = max(256, int(f.size * factor))
    return plan


def _words(rng: random.Random, vocabulary: list[str], size: int) -> str:
    if size <= 0:
        return ""
    text = " ".join(rng.choices(vocabulary, k=size // 5 + 8))
    while len(text) < size:
        text += " " + " ".join(rng.choices(vocabulary, k=size // 5 + 8))
    return text[:size]


def _content(rng: random.Random, vocabulary: list[str], f: SiteFile) -> bytes:
    if f.kind in ("png", "font", "binary"):
        magic = {"png": b"\x89PNG\r\n\x1a\n", "font": b"wOF2", "binary": b""}[f.kind]
        magic = b"# Sphinx inventory version 2\n" if f.kind == "binary" else magic
        return magic + rng.randbytes(max(0, f.size - len(magic)))
    if f.kind == "html":
        depth = f.path.count("/")
        title = " ".join(rng.choices(vocabulary, k=4)).title()
        head = _HTML_HEAD.format(
            root="../" * depth, title=title, anchor=title.lower().replace(" ", "-")
        )
        body = _paragraphs(rng, vocabulary, f.size - len(head) - len(_HTML_FOOT))
        return (head + body + _HTML_FOOT).encode()
    if f.kind == "svg":
        return _svg(rng, f.size).encode()
    if f.kind == "css":
        return _lines(rng, vocabulary, f.size, ".{0}-{1} {{ {2}: #{3:06x} }}\n")
    if f.kind == "js":
        return _lines(rng, vocabulary, f.size, 'var {0}_{1} = "{2} {0}"; // {3}\n')
    if f.kind == "searchindex":
        words = _words(rng, vocabulary, f.size).replace(" ", '","')
        body = words[: max(0, f.size - 26)].rstrip('",')
        return f'Search.setIndex({{"terms":["{body}"]}})'.encode()
    return _words(rng, vocabulary, f.size).encode()


def _paragraphs(rng: random.Random, vocabulary: list[str], size: int) -> str:
    parts: list[str] = []
    left = size
    while left > 0:
        n = min(left, rng.randint(300, 1500))
        words = _words(rng, vocabulary, max(0, n - 40))
        parts.append(f'<p>{words} <a href="#{rng.choice(vocabulary)}">¶</a></p>\n')
        left -= len(parts[-1])
    return "".join(parts)


def _lines(rng: random.Random, vocabulary: list[str], size: int, fmt: str) -> bytes:
    out: list[str] = []
    total = 0
    while total < size:
        a, b, c = rng.choices(vocabulary, k=3)
        line = fmt.format(a, b, c, rng.getrandbits(24))
        out.append(line)
        total += len(line)
    return "".join(out).encode()[:size]


def _svg(rng: random.Random, size: int) -> str:
    head = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 1000">\n'
    foot = "</svg>\n"
    out = [head]
    total = len(head) + len(foot)
    while total < size:
        points = " L ".join(
            f"{rng.uniform(0, 1000):.2f} {rng.uniform(0, 1000):.2f}" for _ in range(12)
        )
        line = f'<path d="M {points} Z" fill="#{rng.getrandbits(24):06x}"/>\n'
        out.append(line)
        total += len(line)
    out.append(foot)
    return "".join(out)
