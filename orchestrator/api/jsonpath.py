"""The JSONPath dialect of client-go, as CRD ``additionalPrinterColumns`` use it.

A column's ``jsonPath`` (``.spec.replicas``,
``.status.conditions[?(@.type=="Ready")].status``) is evaluated by the API
server against every object it prints. Kubernetes wraps it in braces and hands
it to client-go's ``util/jsonpath``; this module reads the same grammar:

- ``.name`` fields (``\\.`` escapes a dot inside a key: ``.metadata.labels.app\\.io/x``),
  ``.*`` every value of a map or list;
- ``[0]``, ``[-1]``, ``[1:3]``, ``[::2]`` and ``[*]`` on lists; ``[0,2]`` unions;
- ``['key']`` and ``["key"]`` for keys with odd characters;
- ``..name`` recursive descent (every map and list below, then the field);
- filters ``[?(@.type=="Ready")]`` with ``== != < > <= >=`` against quoted
  text, numbers, ``true``/``false`` or another ``@.path``, and ``[?(@.x)]``
  for "has a value at x".

The expression may be written bare (``.a.b``, as CRDs do) or in one pair of
braces (``{.a.b}``). Parsing happens once: ``compile_jsonpath`` returns a
frozen ``JSONPath`` of steps and caches it, so a table of a thousand rows does
not re-parse its columns. There is no ``eval`` anywhere; a filter is a tiny
tree of steps and a comparison.

Evaluation follows client-go with missing keys allowed (what the printer
columns ask for): a missing key yields nothing; an index out of range, a
filter over a non-list, or a comparison of a string with a number is an error
in client-go, and the column then prints nothing. ``find`` folds both into
"no results" because the one caller treats them alike. Comparisons are as
strict as Go's templates: ``==`` between an integer and a float, or ``<`` on
booleans, is such an error.

Deviations, deliberate: ``['a.b']`` names the single key ``a.b`` (client-go
splits it at the dot), double-quoted keys are accepted, and ``range``/``end``
(kubectl's templating, not paths) are refused.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    """An expression that is not valid JSONPath; the message says what is wrong."""


class _NoResult(Exception):
    """An evaluation error: client-go fails the lookup, a column prints nothing."""


# -- steps ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    pass


@dataclass(frozen=True, slots=True)
class Recursive:
    pass


@dataclass(frozen=True, slots=True)
class Slice:
    """``[start:stop:step]``; ``[i]`` is a slice whose stop is derived as i+1."""

    start: int | None
    stop: int | None
    step: int | None
    derived: bool = False


@dataclass(frozen=True, slots=True)
class Union:
    branches: tuple[tuple[Step, ...], ...]


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class Filter:
    left: tuple[Step, ...]
    operator: str  # one of _OPERATORS, or "exists"
    right: tuple[Step, ...]


Step = Field | Wildcard | Recursive | Slice | Union | Literal | Filter

_OPERATORS = ("==", "!=", "<", ">", "<=", ">=")
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_SLICE = re.compile(r"(-?\d*)(?::(-?\d*))?(?::(-?\d*))?")
_NUMBER = re.compile(r"[+-]?[\d.]*")
_IDENTIFIER = re.compile(r"[^ \t\r\n.,\[\]$@{}]+")
_COMPARISON = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)", re.DOTALL)


# -- parsing -------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[Step, ...]:
        steps: list[Step] = []
        while self.pos < len(self.text):
            steps.append(self._step(steps))
        return tuple(s for s in steps if s is not _SKIP)

    def _step(self, steps: list[Step]) -> Step:
        text, pos = self.text, self.pos
        if text.startswith("[?(", pos):
            return self._filter()
        if text.startswith("..", pos):
            if steps and steps[-1] == Recursive():
                raise JSONPathError("invalid multiple recursive descent")
            self.pos += 2
            if self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] == "_"):
                self.pos -= 1  # read the name as a field: "..name" is recursive + ".name"
            return Recursive()
        char = text[pos]
        if char in " \t@$":
            self.pos += 1
            return _SKIP
        if char == "[":
            return self._bracket()
        if char in "\"'":
            return Literal(self._quoted())
        if char == ".":
            return self._field()
        if char in "+-" or char.isdigit():
            return self._number()
        if char.isalnum() or char == "_":
            word = _IDENTIFIER.match(text, pos)
            assert word is not None
            self.pos = word.end()
            if word.group() in ("true", "false"):
                return Literal(word.group() == "true")
            raise JSONPathError(f"unrecognized identifier {word.group()}")
        if char in "\r\n":
            raise JSONPathError("unclosed action")
        raise JSONPathError(f"unrecognized character in action: U+{ord(char):04X} {char!r}")

    def _field(self) -> Step:
        self.pos += 1
        name: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] not in _TERMINATORS:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            name.append(self.text[self.pos])
            self.pos += 1
        field = "".join(name)
        return Wildcard() if field == "*" else Field(field)

    def _number(self) -> Step:
        match = _NUMBER.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()
        literal = match.group()
        try:
            return Literal(int(literal))
        except ValueError:
            pass
        try:
            return Literal(float(literal))
        except ValueError:
            raise JSONPathError(f"cannot parse number {literal}") from None

    def _quoted(self) -> str:
        quote, start = self.text[self.pos], self.pos + 1
        end = _closing(self.text, start, quote)
        if end < 0:
            raise JSONPathError("unterminated quoted string")
        self.pos = end + 1
        return _unescape(self.text[start:end])

    def _bracket(self) -> Step:
        end = _closing(self.text, self.pos + 1, "]")
        if end < 0:
            raise JSONPathError("unterminated array")
        inside = self.text[self.pos + 1 : end].strip()
        self.pos = end + 1
        parts = _split_outside_quotes(inside, ",")
        if len(parts) > 1:
            return Union(tuple(_Parser(f"[{part.strip()}]").parse() for part in parts))
        if len(inside) >= 2 and inside[0] in "\"'" and inside[-1] == inside[0]:
            return Field(_unescape(inside[1:-1]))
        if inside == "*":
            return Slice(None, None, None)
        match = _SLICE.fullmatch(inside)
        if match is None or not inside:
            raise JSONPathError(f"invalid array index {inside}")
        try:
            start, stop, step = (int(g) if g else None for g in match.groups())
        except ValueError:
            raise JSONPathError(f"array index {inside} is not a number") from None
        if match.group(2) is None:  # "[i]": one element
            first = start or 0
            return Slice(start, first + 1, None, derived=True)
        return Slice(start, stop, step)

    def _filter(self) -> Step:
        start = self.pos + 3
        end = _closing(self.text, start, ")")
        if end < 0:
            raise JSONPathError("unterminated filter")
        if not self.text.startswith("]", end + 1):
            raise JSONPathError("unclosed array expect ]")
        self.pos = end + 2
        body = self.text[start:end]
        comparison = _COMPARISON.fullmatch(body)
        if comparison is None:
            return Filter(_Parser(body).parse(), "exists", ())
        left, operator, right = comparison.groups()
        if operator not in _OPERATORS:
            raise JSONPathError(f"unrecognized filter operator {operator}")
        return Filter(_Parser(left).parse(), operator, _Parser(right).parse())


_SKIP: Any = object()


def _closing(text: str, start: int, closer: str) -> int:
    """Index of ``closer`` at or after ``start``, skipping quoted text; -1 if absent."""
    quote = ""
    pos = start
    while pos < len(text):
        char = text[pos]
        if char == "\n" and not quote:
            return -1
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "\"'" and closer not in "\"'":
            quote = char
        elif char == "\\":
            pos += 1
        elif char == closer:
            return pos
        pos += 1
    return -1


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", ".": "."}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


# -- evaluation ----------------------------------------------------------------


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _containers(value: Any) -> list[Any]:
    """``value`` and every map or list below it, pre-order (only non-empty ones, as client-go)."""
    children = _children(value)
    if not children:
        return []
    found = [value]
    for child in children:
        found.extend(_containers(child))
    return found


def _slice(values: list[Any], step: Slice) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise _NoResult(f"{type(value).__name__} is not array or slice")
        length = len(value)
        start = step.start or 0
        start = start + length if start < 0 else start
        stop = length if step.stop is None else step.stop
        if stop < 0 or (stop == 0 and step.derived):
            stop += length
        if start == stop:
            continue
        if not 0 <= start < length or not 0 <= stop <= length or start > stop:
            raise _NoResult("array index out of bounds")
        if step.step is not None and step.step <= 0:
            raise _NoResult("step must be > 0")
        found.extend(value[start : stop : step.step or 1])
    return found


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise _NoResult("invalid type for comparison")


def _compare(left: Any, operator: str, right: Any) -> bool:
    if _kind(left) != _kind(right):
        raise _NoResult("incompatible types for comparison")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if isinstance(left, bool):
        raise _NoResult("invalid type for comparison")
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _single(steps: tuple[Step, ...], item: Any) -> list[Any]:
    found = _walk(steps, [item])
    if len(found) > 1:
        raise _NoResult("can only compare one element at a time")
    return found


def _filter(values: list[Any], step: Filter) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if not isinstance(value, list):
            raise _NoResult("not array or slice and cannot be filtered")
        for item in value:
            if step.operator == "exists":
                try:
                    if _walk(step.left, [item]):
                        found.append(item)
                except _NoResult:
                    pass
                continue
            left = _single(step.left, item)
            if not left:
                continue
            right = _single(step.right, item)
            if right and _compare(left[0], step.operator, right[0]):
                found.append(item)
    return found


def _apply(step: Step, values: list[Any]) -> list[Any]:
    match step:
        case Field(name=""):
            return [v for v in values if v is not None]
        case Field(name=name):
            return [v[name] for v in values if isinstance(v, dict) and name in v]
        case Wildcard():
            return [child for v in values for child in _children(v)]
        case Recursive():
            return [found for v in values for found in _containers(v)]
        case Slice():
            return _slice(values, step)
        case Union(branches=branches):
            return [found for branch in branches for found in _walk(branch, values)]
        case Literal(value=value):  # client-go: text once, numbers and booleans once per input
            return [value] if isinstance(value, str) else [value] * len(values)
        case Filter():
            return _filter(values, step)
    raise AssertionError(step)


def _walk(steps: tuple[Step, ...], values: list[Any]) -> list[Any]:
    for step in steps:
        values = _apply(step, values)
    return values


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A compiled expression: its text and the steps read from it."""

    expression: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        """Every value the expression selects in ``obj``, in document order; [] if none."""
        try:
            return _walk(self.steps, [obj])
        except _NoResult:
            return []


@functools.lru_cache(maxsize=1024)
def compile_jsonpath(expression: str) -> JSONPath:
    """Parse ``expression`` (``.a.b`` or ``{.a.b}``); raises ``JSONPathError`` saying why not."""
    body = expression.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise JSONPathError("unclosed action")
        body = body[1:-1]
        if "{" in body or "}" in body:
            raise JSONPathError("only one {...} action is supported")
    elif "{" in body or "}" in body:
        raise JSONPathError("unrecognized character in action: U+007B '{'")
    if not body.strip():
        raise JSONPathError("must not be empty")
    return JSONPath(expression, _Parser(body).parse())
