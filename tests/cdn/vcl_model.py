"""A small interpreter for the subset of Fastly VCL that the Fastly edge
renders, so the edge contract's table of cases can run against the VCL
itself without a Fastly service.

It follows the request through ``vcl_recv``, ``vcl_miss``, a backend call,
``vcl_fetch``, ``vcl_error`` and ``vcl_deliver`` (with restarts, at most
three), and models what the VCL relies on: headers that are "not set"
(concatenated as ``""``, false in a condition, matching no regular
expression; ``!=`` and ``!~`` on one are refused, as Fastly's answer is
not one to rely on), ``re.group.N`` after a match, ``regsub``/``regsuball`` with
``\\1`` references, ``table.lookup``, ``std.strstr``, ``std.tolower``, ``urldecode`` and
``utf8.is_valid``, long strings without escapes and plain strings with ``%xx``
escapes. What Fastly does around the VCL (caching, clustering, HEAD,
Range, conditional requests) is not modelled: every lookup is a miss.
Anything else in the VCL is an error here, so the model never guesses.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<long>\{(?P<delim>[A-Za-z]*)"(?P<body>.*?)"(?P=delim)\})
  | (?P<str>"[^"\n]*")
  | (?P<num>[0-9]+[smhdy]?)
  | (?P<op>==|!=|!~|&&|\|\||<=|>=|\+=|[~!<>=+(){};,])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.:-]*)
    """,
    re.S | re.X,
)
MAX_RESTARTS = 3


class VclSyntaxError(Exception):
    pass


@dataclass
class Tok:
    kind: str
    text: str
    value: Any = None


def tokenize(source: str) -> list[Tok]:
    tokens = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            raise VclSyntaxError(f"cannot read {source[pos : pos + 40]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind in ("ws", "comment"):
            continue
        if match.group("long") is not None:
            tokens.append(Tok("str", match.group(0), match.group("body")))
        elif kind == "str":
            raw = match.group(0)[1:-1]
            tokens.append(Tok("str", match.group(0), _percent_decode(raw)))
        elif kind in ("num", "op", "ident"):
            tokens.append(Tok(kind, match.group(0)))
        else:  # pragma: no cover - every group is named above
            raise VclSyntaxError(match.group(0))
    return tokens


def _percent_decode(raw: str) -> str:
    return unquote_to_bytes(raw).decode("utf-8") if "%" in raw else raw


# -- parsing --------------------------------------------------------------------

Node = tuple[Any, ...]


class Parser:
    def __init__(self, tokens: list[Tok]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Tok | None:
        at = self.pos + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise VclSyntaxError("unexpected end")
        self.pos += 1
        return tok

    def expect(self, text: str) -> Tok:
        tok = self.next()
        if tok.text != text:
            raise VclSyntaxError(f"expected {text!r}, got {tok.text!r}")
        return tok

    def program(self) -> dict[str, list[Node]]:
        subs = {}
        while self.peek() is not None:
            self.expect("sub")
            name = self.next().text
            if name in subs:
                raise VclSyntaxError(f"sub {name} twice")
            subs[name] = self.block()
        return subs

    def block(self) -> list[Node]:
        self.expect("{")
        body = []
        while self.peek() is not None and self.peek().text != "}":  # type: ignore[union-attr]
            body.append(self.statement())
        self.expect("}")
        return body

    def statement(self) -> Node:
        word = self.next().text
        if word == "if":
            branches = [(self.condition(), self.block())]
            otherwise: list[Node] = []
            while self.peek() is not None:
                text = self.peek().text  # type: ignore[union-attr]
                if text in ("elsif", "elseif"):
                    self.next()
                    branches.append((self.condition(), self.block()))
                elif text == "else" and self.peek(1) and self.peek(1).text == "if":  # type: ignore[union-attr]
                    self.next()
                    self.next()
                    branches.append((self.condition(), self.block()))
                elif text == "else":
                    self.next()
                    otherwise = self.block()
                    break
                else:
                    break
            return ("if", branches, otherwise)
        if word in ("set", "add"):
            target = self.next().text
            op = self.next().text
            if op not in ("=", "+="):
                raise VclSyntaxError(f"{word} {target} {op}")
            value = self.expression()
            self.expect(";")
            return (word, target, op, value)
        if word == "unset":
            target = self.next().text
            self.expect(";")
            return ("unset", target)
        if word == "declare":
            self.expect("local")
            name = self.next().text
            kind = self.next().text
            self.expect(";")
            return ("declare", name, kind)
        if word == "error":
            code = int(self.next().text)
            message = None
            if self.peek() and self.peek().text != ";":  # type: ignore[union-attr]
                message = self.expression()
            self.expect(";")
            return ("error", code, message)
        if word == "restart":
            self.expect(";")
            return ("restart",)
        if word == "return":
            state = None
            if self.peek() and self.peek().text == "(":  # type: ignore[union-attr]
                self.next()
                state = self.next().text
                self.expect(")")
            self.expect(";")
            return ("return", state)
        if word == "call":
            name = self.next().text
            self.expect(";")
            return ("call", name)
        if word == "synthetic":
            value = self.expression()
            self.expect(";")
            return ("synthetic", value)
        raise VclSyntaxError(f"unknown statement {word!r}")

    def condition(self) -> Node:
        self.expect("(")
        node = self.expression()
        self.expect(")")
        return node

    def expression(self) -> Node:
        node = self.conjunction()
        while self.peek() and self.peek().text == "||":  # type: ignore[union-attr]
            self.next()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek() and self.peek().text == "&&":  # type: ignore[union-attr]
            self.next()
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.peek() and self.peek().text == "!":  # type: ignore[union-attr]
            self.next()
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.concatenation()
        tok = self.peek()
        if tok is not None and tok.text in ("==", "!=", "<", ">", "<=", ">="):
            self.next()
            return ("cmp", tok.text, left, self.concatenation())
        if tok is not None and tok.text in ("~", "!~"):
            self.next()
            pattern = self.next()
            if pattern.kind != "str":
                raise VclSyntaxError("a regular expression must be a literal")
            return ("match", tok.text == "!~", left, pattern.value)
        return left

    def concatenation(self) -> Node:
        node = self.primary()
        while self.peek() and self.peek().text == "+":  # type: ignore[union-attr]
            self.next()
            node = ("concat", node, self.primary())
        return node

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind == "str":
            return ("str", tok.value)
        if tok.kind == "num":
            return ("num", tok.text)
        if tok.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if tok.text == "!":
            return ("not", self.primary())
        if tok.kind == "ident":
            if self.peek() and self.peek().text == "(":  # type: ignore[union-attr]
                self.next()
                args = []
                while self.peek() and self.peek().text != ")":  # type: ignore[union-attr]
                    args.append(self.expression())
                    if self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
                        self.next()
                self.expect(")")
                return ("fn", tok.text, args)
            return ("var", tok.text)
        raise VclSyntaxError(f"unexpected {tok.text!r}")


def parse(source: str) -> dict[str, list[Node]]:
    return Parser(tokenize(source)).program()


# -- running ----------------------------------------------------------------------


class Headers:
    """Header fields by case-insensitive name; ``add`` keeps several."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self.fields: list[tuple[str, str]] = list((items or {}).items())

    def get(self, name: str) -> str | None:
        for key, value in self.fields:
            if key.lower() == name.lower():
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k.lower() == name.lower()]

    def set(self, name: str, value: str | None) -> None:
        self.unset(name)
        if value is not None:
            self.fields.append((name, value))

    def add(self, name: str, value: str) -> None:
        self.fields.append((name, value))

    def unset(self, name: str) -> None:
        self.fields = [(k, v) for k, v in self.fields if k.lower() != name.lower()]

    def copy(self) -> Headers:
        out = Headers()
        out.fields = list(self.fields)
        return out


@dataclass
class Message:
    status: int = 200
    response: str = "OK"
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""


@dataclass
class BackendRequest:
    method: str
    url: str
    headers: Headers


Backend = Callable[[BackendRequest], Message]


class _Restart(Exception):
    pass


class _Error(Exception):
    def __init__(self, code: int, message: str | None) -> None:
        self.code = code
        self.message = message


class _Return(Exception):
    def __init__(self, state: str | None) -> None:
        self.state = state


@dataclass
class _Run:
    """One client request's state across subroutines and restarts."""

    method: str
    url: str
    req: Headers
    tables: Mapping[str, Mapping[str, str]]
    restarts: int = 0
    groups: list[str | None] = field(default_factory=list)
    local: dict[str, Any] = field(default_factory=dict)
    bereq: BackendRequest | None = None
    beresp: Message | None = None
    obj: Message | None = None
    resp: Message | None = None
    ttl: str = ""


class Fastly:
    """The rendered VCL, the dictionaries and a backend, answering requests."""

    def __init__(
        self,
        vcl: str,
        tables: Mapping[str, Mapping[str, str]],
        backend: Backend,
        *,
        empty_is_unset: bool = False,
    ) -> None:
        self.subs = parse(vcl)
        #: Read ``set req.http.X = ""`` as unsetting X: the VCL must work
        #: whichever way Fastly takes it.
        self.empty_is_unset = empty_is_unset
        self.tables = tables
        self.backend = backend
        #: The objects fetched from the backend, request by request.
        self.fetched: list[str] = []

    def request(self, method: str, url: str, headers: Mapping[str, str]) -> Message:
        run = _Run(method=method, url=url, req=Headers(headers), tables=self.tables)
        while True:
            try:
                resp = self._pass(run)
            except _Restart:
                run.restarts += 1
                if run.restarts > MAX_RESTARTS:
                    return Message(
                        503, "Service Unavailable", body=b"too many restarts"
                    )
                continue
            if method == "HEAD":
                resp.body = b""
            return resp

    def _pass(self, run: _Run) -> Message:
        run.beresp = run.obj = run.resp = run.bereq = None
        try:
            state = self._sub(run, "vcl_recv")
            if state not in ("lookup", "pass"):
                raise AssertionError(f"vcl_recv returned {state}")
            self._sub(run, "vcl_hash")
            run.bereq = BackendRequest(run.method, run.url, run.req.copy())
            state = self._sub(run, "vcl_miss" if state == "lookup" else "vcl_pass")
            self.fetched.append(run.bereq.url)
            run.beresp = self.backend(run.bereq)
            self._sub(run, "vcl_fetch")
            run.resp = run.beresp
        except _Error as exc:
            run.obj = Message(exc.code, exc.message or "")
            state = self._sub(run, "vcl_error")
            if state != "deliver":
                raise AssertionError("vcl_error must return(deliver)") from None
            run.resp = run.obj
        self._sub(run, "vcl_deliver")
        assert run.resp is not None
        return run.resp

    def _sub(self, run: _Run, name: str) -> str | None:
        run.local = {}
        try:
            self._block(run, self.subs[name])
        except _Return as done:
            return done.state
        return None

    def _block(self, run: _Run, body: list[Node]) -> None:
        for node in body:
            self._statement(run, node)

    def _statement(self, run: _Run, node: Node) -> None:
        kind = node[0]
        if kind == "if":
            for condition, block in node[1]:
                if _truthy(self._eval(run, condition)):
                    self._block(run, block)
                    return
            self._block(run, node[2])
        elif kind == "set":
            _, target, op, expression = node
            if target == "req.hash" and op == "+=":
                return
            self._assign(run, target, self._eval(run, expression))
        elif kind == "add":
            _, target, _, expression = node
            container, name = self._header_target(run, target)
            value = self._eval(run, expression)
            if value is not None:
                container.add(name, _string(value))
        elif kind == "unset":
            container, name = self._header_target(run, node[1])
            container.unset(name)
        elif kind == "declare":
            run.local[node[1]] = None
        elif kind == "error":
            message = self._eval(run, node[2]) if node[2] is not None else None
            raise _Error(node[1], message)
        elif kind == "restart":
            raise _Restart
        elif kind == "return":
            raise _Return(node[1])
        elif kind == "call":
            saved = run.local
            with contextlib.suppress(_Return):
                self._block(run, self.subs[node[1]])
            run.local = saved
        elif kind == "synthetic":
            assert run.obj is not None, "synthetic outside vcl_error"
            run.obj.body = _string(self._eval(run, node[1])).encode()
        else:  # pragma: no cover
            raise AssertionError(kind)

    def _header_target(self, run: _Run, target: str) -> tuple[Headers, str]:
        for prefix, message in (
            ("req.http.", None),
            ("bereq.http.", run.bereq),
            ("beresp.http.", run.beresp),
            ("obj.http.", run.obj),
            ("resp.http.", run.resp),
        ):
            if target.startswith(prefix):
                name = target[len(prefix) :]
                if prefix == "req.http.":
                    return run.req, name
                if isinstance(message, BackendRequest):
                    return message.headers, name
                if message is None:
                    raise AssertionError(f"{target} is not available here")
                return message.headers, name
        raise AssertionError(f"not a header: {target}")

    def _assign(self, run: _Run, target: str, value: Any) -> None:
        if target.startswith("var."):
            if target not in run.local:
                raise AssertionError(f"{target} was never declared")
            run.local[target] = value
        elif target == "req.url":
            run.url = _string(value)
        elif target in ("resp.status", "obj.status"):
            message = run.resp if target.startswith("resp") else run.obj
            assert message is not None
            message.status = int(value)
        elif target in ("resp.response", "obj.response"):
            message = run.resp if target.startswith("resp") else run.obj
            assert message is not None
            message.response = _string(value)
        elif target == "beresp.ttl":
            run.ttl = _string(value)
        elif target == "beresp.cacheable":
            pass
        else:
            container, name = self._header_target(run, target)
            if value is None or (self.empty_is_unset and _string(value) == ""):
                container.unset(name)
            else:
                container.set(name, _string(value))

    def _eval(self, run: _Run, node: Node) -> Any:
        kind = node[0]
        if kind == "str":
            return node[1]
        if kind == "num":
            return int(node[1]) if node[1].isdigit() else node[1]
        if kind == "var":
            return self._read(run, node[1])
        if kind == "concat":
            return _string(self._eval(run, node[1])) + _string(self._eval(run, node[2]))
        if kind == "not":
            return not _truthy(self._eval(run, node[1]))
        if kind == "and":
            return _truthy(self._eval(run, node[1])) and _truthy(
                self._eval(run, node[2])
            )
        if kind == "or":
            return _truthy(self._eval(run, node[1])) or _truthy(
                self._eval(run, node[2])
            )
        if kind == "cmp":
            left, right = self._eval(run, node[2]), self._eval(run, node[3])
            op = node[1]
            if op == "==":
                return left is not None and left == right
            if op == "!=":
                if left is None:
                    raise AssertionError(f"!= on a value that is not set: {node[2]}")
                return left != right
            if left is None or right is None:
                return False
            return {
                "<": left < right,
                ">": left > right,
                "<=": left <= right,
                ">=": left >= right,
            }[op]
        if kind == "match":
            _, negated, left_node, pattern = node
            value = self._eval(run, left_node)
            if value is None:
                if negated:
                    raise AssertionError(f"!~ on a value that is not set: {left_node}")
                return False  # a value that is not set matches nothing
            found = re.search(pattern, _string(value))
            if found:
                run.groups = [found.group(0), *found.groups()]
            return (found is None) if negated else (found is not None)
        if kind == "fn":
            args = [self._eval(run, a) for a in node[2]]
            return self._function(run, node[1], node[2], args)
        raise AssertionError(kind)  # pragma: no cover

    def _function(
        self, run: _Run, name: str, nodes: list[Node], args: list[Any]
    ) -> Any:
        if name in ("regsub", "regsuball"):
            if nodes[1][0] != "str":
                raise AssertionError(f"{name} needs a literal regular expression")
            replacement = re.sub(r"\\([0-9])", r"\\g<\1>", _string(args[2]))
            return re.sub(
                args[1],
                replacement,
                _string(args[0]),
                count=1 if name == "regsub" else 0,
            )
        if name == "table.lookup":
            table = str(nodes[0][1]) if nodes[0][0] == "var" else ""
            assert table in self.tables, f"no table {table!r}"
            found = self.tables[table].get(_string(args[1]))
            return found if found is not None else (args[2] if len(args) > 2 else None)
        if name == "std.tolower":
            return None if args[0] is None else _string(args[0]).lower()
        if name == "std.strstr":
            haystack, needle = _string(args[0]), _string(args[1])
            at = haystack.find(needle)
            return None if at < 0 else haystack[at:]
        if name == "urldecode":
            # Bytes that are not UTF-8 stay as they are, for utf8.is_valid.
            return unquote(_string(args[0]), errors="surrogateescape")
        if name == "utf8.is_valid":
            try:
                _string(args[0]).encode("utf-8")
            except UnicodeEncodeError:
                return False
            return True
        raise AssertionError(f"unknown function {name}")

    def _read(self, run: _Run, name: str) -> Any:
        if name.startswith("var."):
            return run.local[name]
        if name.startswith("re.group."):
            index = int(name.rsplit(".", 1)[1])
            return run.groups[index] if index < len(run.groups) else None
        if name == "req.url":
            return run.url
        if name == "req.url.path":
            return run.url.split("?", 1)[0]
        if name == "req.method":
            return run.method
        if name == "req.restarts":
            return run.restarts
        if name == "fastly.ff.visits_this_service":
            return 0
        if name == "req.backend.is_shield":
            return False
        if name in ("resp.status", "beresp.status", "obj.status"):
            message = {"resp": run.resp, "beresp": run.beresp, "obj": run.obj}[
                name.split(".")[0]
            ]
            assert message is not None, name
            return message.status
        if ".http." in name:
            container, header = self._header_target(run, name)
            return container.get(header)
        if name in ("true", "false"):
            return name == "true"
        if name in self.tables:
            return name
        raise AssertionError(f"unknown variable {name}")


def _string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return value is not None
