"""How admin commands print what keeper answers.

Three audiences: a script asks for ``--json`` and gets the API's JSON
unchanged; a person at a terminal gets rich tables; a pipe without
``--json`` (``| grep``, ``| less``) gets the same tables as plain aligned
text, without box characters or colour codes to trip over. Data goes to
stdout and remarks ("deleted …") to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.table import Table

EMPTY = "-"


def text(value: Any) -> str:
    """One cell: ``-`` for nothing, compact JSON for objects and lists."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping | list):
        return (
            json.dumps(value, separators=(",", ":"), sort_keys=True) if value else EMPTY
        )
    return str(value)


def when(value: Any) -> str:
    """A timestamp to the second: ``2024-05-01T12:00:00.123+00:00`` reads
    as ``2024-05-01 12:00:00`` in a table (keeper stores UTC)."""
    if not isinstance(value, str) or len(value) < 19:
        return text(value)
    return value[:19].replace("T", " ")


def size(value: Any) -> str:
    if not isinstance(value, int):
        return text(value)
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{value} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def params(value: Any) -> str:
    """Tracking params as they are typed on the command line: ``major=2``."""
    if isinstance(value, Mapping) and value:
        return " ".join(
            f"{k}={v}" if isinstance(v, str | int) else f"{k}:={json.dumps(v)}"
            for k, v in sorted(value.items())
        )
    return text(value)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    render: Callable[[Any], str] = text

    def cell(self, row: Mapping[str, Any]) -> str:
        return self.render(row.get(self.key))


def console() -> Console:
    # Made per call: under click's test runner sys.stdout is swapped.
    return Console(highlight=False, soft_wrap=False)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def emit_list(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    as_json: bool,
    out: Console | None = None,
) -> None:
    if as_json:
        emit_json(list(rows))
        return
    out = out or console()
    cells = [[c.cell(row) for c in columns] for row in rows]
    headers = [c.header for c in columns]
    if out.is_terminal:
        table = Table(*headers, header_style="bold", show_edge=False)
        for line in cells:
            table.add_row(*line)
        out.print(table)
        if not rows:
            out.print("(none)", style="dim")
    else:
        _plain(out, [[h.upper() for h in headers], *cells])


def emit_record(
    record: Mapping[str, Any],
    *,
    as_json: bool,
    renderers: Mapping[str, Callable[[Any], str]] | None = None,
    out: Console | None = None,
) -> None:
    """One object as ``field  value`` lines, in the API's field order."""
    if as_json:
        emit_json(record)
        return
    out = out or console()
    renderers = renderers or {}
    pairs = [[key, renderers.get(key, text)(value)] for key, value in record.items()]
    if out.is_terminal:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, value in pairs:
            table.add_row(key, value)
        out.print(table)
    else:
        _plain(out, pairs)


def _plain(out: Console, lines: Iterable[Sequence[str]]) -> None:
    lines = list(lines)
    if not lines:
        return
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        padded = "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        # Through click, not rich: rich would wrap long lines to a width.
        click.echo(padded.rstrip(), file=out.file)


def note(message: str) -> None:
    """A remark for the person running the command, kept off stdout."""
    click.echo(message, err=True)
