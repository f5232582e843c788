"""What a render worker and keeper say to each other (see
:mod:`keeper.pages.budget`).

Keeper sends pickles (the worker trusts keeper). The worker answers with
one frame: a kind byte, then the page's bytes or a small JSON object. Never
a pickle: it runs templates an org admin wrote, and keeper must not load
objects it could forge.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from jinja2 import exceptions as jinja_errors

#: Frames a worker sends: ready, a page, a template's error, a budget spent.
READY, PAGE, ERROR, SPENT = b"R", b"P", b"E", b"B"
#: An error's message is cut to this many characters: it names a value the
#: template built, which may be huge.
MAX_ERROR_CHARS = 2000

_JINJA_ERRORS: dict[str, type[jinja_errors.TemplateError]] = {
    cls.__name__: cls
    for cls in (
        jinja_errors.TemplateError,
        jinja_errors.TemplateRuntimeError,
        jinja_errors.UndefinedError,
        jinja_errors.SecurityError,
        jinja_errors.FilterArgumentError,
    )
}


def describe_error(exc: BaseException) -> dict[str, Any]:
    """What the worker tells keeper of a template's error (JSON)."""
    found: dict[str, Any] = {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "message": _cut(str(exc)),
    }
    if isinstance(exc, jinja_errors.TemplateSyntaxError):
        found.update(
            message=_cut(exc.message or ""),
            lineno=exc.lineno,
            name=exc.name,
            filename=exc.filename,
        )
    elif isinstance(exc, jinja_errors.TemplateNotFound):
        found.update(message=_cut(exc.message or ""), name=_cut(str(exc.name)))
    if all(isinstance(a, str | int | float | bool | None) for a in exc.args):
        found["args"] = [_cut(a) if isinstance(a, str) else a for a in exc.args]
    return found


def rebuild_error(found: Mapping[str, Any]) -> Exception:
    """The worker's :func:`describe_error` as an exception of the same kind:
    Jinja's own errors and Python's built-in ones keep their class."""
    name, module = str(found.get("type")), str(found.get("module"))
    message = str(found.get("message", ""))
    if module.startswith("jinja2"):
        if name in ("TemplateSyntaxError", "TemplateAssertionError"):
            cls = getattr(jinja_errors, name)
            lineno = found.get("lineno")
            return cls(
                message,
                lineno if isinstance(lineno, int) else 0,
                _str_or_none(found.get("name")),
                _str_or_none(found.get("filename")),
            )
        if name in ("TemplateNotFound", "TemplatesNotFound"):
            return jinja_errors.TemplateNotFound(
                str(found.get("name", "")), message or None
            )
        if name in _JINJA_ERRORS:
            return _JINJA_ERRORS[name](message)
    if module == "builtins":
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                return cls(*found.get("args", [message]))
            except Exception:  # noqa: BLE001 - then keep the message only
                return cls(message)
    return jinja_errors.TemplateRuntimeError(f"{name}: {message}")


def _cut(text: str) -> str:
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return text[:MAX_ERROR_CHARS] + f"… ({len(text)} characters)"


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
