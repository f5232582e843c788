"""Helpers for the Sphinx theme tests: offline in-process builds, HTML tags."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main


@dataclass
class NetworkAttempts:
    """Every connection or name lookup something tried while the net was off."""

    attempts: list[str] = field(default_factory=list)


@contextmanager
def network_off() -> Iterator[NetworkAttempts]:
    """No socket can connect and no name resolves; each try is recorded."""
    record = NetworkAttempts()

    def refuse_connect(sock: socket.socket, address: object) -> None:
        record.attempts.append(f"connect {address!r}")
        raise OSError(f"network is off in this test (connect to {address!r})")

    def refuse_lookup(host: object, *args: object, **kwargs: object) -> None:
        record.attempts.append(f"getaddrinfo {host!r}")
        raise socket.gaierror(f"network is off in this test (lookup of {host!r})")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse_connect)
        patch.setattr(socket.socket, "connect_ex", refuse_connect)
        patch.setattr(socket, "getaddrinfo", refuse_lookup)
        yield record


@pytest.fixture
def offline() -> Iterator[NetworkAttempts]:
    with network_off() as record:
        yield record


def sphinx_build(source: Path, out: Path) -> None:
    """Build HTML in this process, with every warning an error."""
    status = build_main(
        [
            "-b",
            "html",
            "-W",
            "-E",
            "-q",
            "-d",
            str(out / ".doctrees"),
            str(source),
            str(out),
        ]
    )
    assert status == 0, f"sphinx-build of {source} exited {status}"


def write_project(
    directory: Path, conf: str, pages: dict[str, str] | None = None
) -> Path:
    """A Sphinx project: conf.py with exactly ``conf``, and some pages."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "conf.py").write_text(conf)
    pages = pages or {
        "index": "Home\n====\n\nA page.\n\n.. toctree::\n\n   guide\n",
        "guide": "Guide\n=====\n\nAnother page.\n",
    }
    for name, text in pages.items():
        (directory / f"{name}.rst").write_text(text)
    return directory


@dataclass(frozen=True)
class Tag:
    name: str
    attrs: dict[str, str | None]

    def get(self, key: str) -> str | None:
        return self.attrs.get(key)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(Tag(tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags(html_file: Path) -> list[Tag]:
    """The start tags of a page, in document order."""
    collector = _TagCollector()
    collector.feed(html_file.read_text(encoding="utf-8"))
    return collector.tags


def by_id(page: list[Tag], element_id: str) -> Tag:
    found = [tag for tag in page if tag.get("id") == element_id]
    assert len(found) == 1, f"expected one element #{element_id}, found {len(found)}"
    return found[0]
