"""Label and field selectors: parsing, matching and rendering.

Label selectors follow the Kubernetes grammar (``labels.Parse`` in
apimachinery): a comma-separated conjunction of requirements, each one of
``key=value`` / ``key==value`` / ``key!=value``, ``key in (a,b)``,
``key notin (a,b)``, ``key`` (exists), ``!key`` (does not exist) and the
integer comparisons ``key>1`` / ``key<1``. A small tokenizer splits the text
into words and symbols (whitespace between them is ignored), and a recursive
descent parser turns them into frozen ``Requirement`` values; keys and values
are validated as label keys and values. The empty string selects everything.
The structured ``metav1.LabelSelector`` form (``matchLabels`` +
``matchExpressions``) converts to the same value, sorted by key as Kubernetes
does, so both forms render to the same canonical string.

Field selectors are simpler (``fields.ParseSelector``): comma-separated
``field=value``, ``field==value`` or ``field!=value``, with ``\\,``, ``\\=``
and ``\\\\`` escapes in values. A field is a dotted path into the object; a
missing field compares as its zero value (``""``, or ``"false"``/``"0"`` for
the few boolean and integer fields), which is how ``involvedObject.namespace=``
selects events of cluster-scoped objects. Which fields a kind allows is a
fixed table (``supported_field``); the API server answers 400 for the rest.

Every parse failure raises ``SelectorError`` (a ``ValueError``) whose message
names the offending part; the API server sends it back as a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

LabelOperator = Literal["=", "!=", "in", "notin", "exists", "!", ">", "<"]
FieldOperator = Literal["=", "!="]


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed or is not allowed."""


# -- label keys and values ---------------------------------------------------

_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = (
    "must be 63 characters or less, begin and end with an alphanumeric character and "
    "contain only alphanumerics, '-', '_' or '.'"
)


def find_label_key_error(key: str) -> str | None:
    """Say what is wrong with a label key (``[prefix/]name``), or None if it is valid."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"label key {key!r}: prefix part must not be empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix):
            return (
                f"label key {key!r}: prefix part must be a lowercase DNS subdomain "
                "of 253 characters or less"
            )
    if not name:
        return f"label key {key!r}: name part must not be empty"
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return f"label key {key!r}: name part {_NAME_RULE}"
    return None


def find_label_value_error(value: str) -> str | None:
    """Say what is wrong with a label value (may be empty), or None if it is valid."""
    if value == "" or (len(value) <= 63 and _LABEL_NAME.fullmatch(value)):
        return None
    return f"label value {value!r}: {_NAME_RULE}"


# -- label selector values -----------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a label selector: a key, an operator and its (sorted) values."""

    key: str
    operator: LabelOperator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement."""
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case ">" | "<":
                if value is None or not _INTEGER.fullmatch(value):
                    return False
                bound = int(self.values[0])
                return int(value) > bound if self.operator == ">" else int(value) < bound
        return False

    def __str__(self) -> str:
        match self.operator:
            case "exists":
                return self.key
            case "!":
                return f"!{self.key}"
            case "in" | "notin":
                return f"{self.key} {self.operator} ({','.join(self.values)})"
        return f"{self.key}{self.operator}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; empty selects everything, ``nothing`` selects none."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object's labels (None = no labels) satisfy every requirement."""
        if self.nothing:
            return False
        present = labels or {}
        return all(requirement.matches(present) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements and selects everything."""
        return not self.requirements and not self.nothing

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


# -- label selector text -----------------------------------------------------

_SYMBOLS = frozenset("!=<>(),")
_KEYWORDS = frozenset({"in", "notin"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["word", "symbol", "end"]
    text: str

    def describe(self) -> str:
        return "end of string" if self.kind == "end" else repr(self.text)


def _tokenize(text: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in _SYMBOLS:
            pair = text[index : index + 2]
            symbol = pair if pair in ("!=", "==") else char
            tokens.append(_Token("symbol", symbol))
            index += len(symbol)
        else:
            end = index
            while end < len(text) and not text[end].isspace() and text[end] not in _SYMBOLS:
                end += 1
            tokens.append(_Token("word", text[index:end]))
            index = end
    tokens.append(_Token("end", ""))
    return tuple(tokens)


class _LabelParser:
    """Recursive descent over the tokens; holds only the cursor of one parse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.position = 0

    def fail(self, problem: str) -> SelectorError:
        return SelectorError(f"unable to parse label selector {self.text!r}: {problem}")

    def peek(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        if token.kind != "end":
            self.position += 1
        return token

    def at_boundary(self) -> bool:
        token = self.peek()
        return token.kind == "end" or token.text == ","

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        if self.peek().kind == "end":
            return LabelSelector()
        while True:
            requirements.append(self.parse_requirement())
            token = self.take()
            if token.kind == "end":
                return LabelSelector(tuple(requirements))
            if token.text != ",":
                raise self.fail(f"found {token.describe()}, expected ',' or end of string")

    def parse_key(self) -> str:
        token = self.take()
        if token.kind != "word" or token.text in _KEYWORDS:
            raise self.fail(f"found {token.describe()}, expected a label key")
        problem = find_label_key_error(token.text)
        if problem:
            raise self.fail(problem)
        return token.text

    def parse_requirement(self) -> Requirement:
        if self.peek().text == "!" and self.peek().kind == "symbol":
            self.take()
            key = self.parse_key()
            return Requirement(key, "!")
        key = self.parse_key()
        if self.at_boundary():
            return Requirement(key, "exists")
        token = self.take()
        if token.kind == "symbol" and token.text in ("=", "=="):
            return Requirement(key, "=", (self.parse_value(),))
        if token.kind == "symbol" and token.text == "!=":
            return Requirement(key, "!=", (self.parse_value(),))
        if token.kind == "symbol" and token.text in (">", "<"):
            value = self.parse_value()
            if not _INTEGER.fullmatch(value):
                raise self.fail(f"value {value!r} for {key}{token.text} must be an integer")
            return Requirement(key, ">" if token.text == ">" else "<", (value,))
        if token.kind == "word" and token.text in ("in", "notin"):
            values = self.parse_value_set(key, token.text)
            return Requirement(key, "in" if token.text == "in" else "notin", values)
        raise self.fail(
            f"found {token.describe()} after key {key!r}, expected one of "
            "'=', '==', '!=', '>', '<', 'in', 'notin', ',' or end of string"
        )

    def parse_value(self) -> str:
        if self.at_boundary():
            return ""
        token = self.take()
        if token.kind != "word":
            raise self.fail(f"found {token.describe()}, expected a label value")
        problem = find_label_value_error(token.text)
        if problem:
            raise self.fail(problem)
        return token.text

    def parse_value_set(self, key: str, operator: str) -> tuple[str, ...]:
        opening = self.take()
        if opening.text != "(" or opening.kind != "symbol":
            raise self.fail(f"found {opening.describe()} after '{key} {operator}', expected '('")
        values: set[str] = set()
        if self.peek().text == ")" and self.peek().kind == "symbol":
            raise self.fail(f"values of '{key} {operator}' must not be empty")
        while True:
            token = self.peek()
            if token.kind == "symbol" and token.text in (",", ")"):
                values.add("")
            else:
                values.add(self.parse_value())
            closing = self.take()
            if closing.kind == "symbol" and closing.text == ")":
                return tuple(sorted(values))
            if closing.kind != "symbol" or closing.text != ",":
                raise self.fail(
                    f"found {closing.describe()} in '{key} {operator}', expected ',' or ')'"
                )


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a label selector string (``app=web,tier in (a,b),!legacy``)."""
    return _LabelParser(text).parse()


def selector_from_labels(labels: Mapping[str, str] | None) -> LabelSelector:
    """The selector that requires every given label (a Service's ``spec.selector`` map)."""
    return selector_from_label_selector_object({"matchLabels": dict(labels or {})})


_STRUCTURED_OPERATORS: Mapping[str, LabelOperator] = MappingProxyType(
    {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
)


def _structured_requirement(index: int, expression: Any) -> Requirement:
    where = f"matchExpressions[{index}]"
    if not isinstance(expression, Mapping):
        raise SelectorError(f"{where}: must be an object")
    key = expression.get("key")
    if not isinstance(key, str):
        raise SelectorError(f"{where}.key: must be a string")
    problem = find_label_key_error(key)
    if problem:
        raise SelectorError(f"{where}.key: {problem}")
    operator = _STRUCTURED_OPERATORS.get(str(expression.get("operator")))
    if operator is None:
        raise SelectorError(
            f"{where}.operator: {expression.get('operator')!r} is not one of "
            "In, NotIn, Exists, DoesNotExist"
        )
    values = expression.get("values") or []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise SelectorError(f"{where}.values: must be a list of strings")
    if operator in ("in", "notin") and not values:
        raise SelectorError(f"{where}.values: must be non-empty for {expression['operator']}")
    if operator in ("exists", "!") and values:
        raise SelectorError(f"{where}.values: must be empty for {expression['operator']}")
    for value in values:
        problem = find_label_value_error(value)
        if problem:
            raise SelectorError(f"{where}.values: {problem}")
    return Requirement(key, operator, tuple(sorted(set(values))))


def selector_from_label_selector_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` dict; ``{}`` selects everything, None nothing."""
    if sel is None:
        return LabelSelector(nothing=True)
    if not isinstance(sel, Mapping):
        raise SelectorError("label selector must be an object")
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels: must be a map of strings")
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions: must be a list")
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key!r}]: must be a string")
        problem = find_label_key_error(key) or find_label_value_error(value)
        if problem:
            raise SelectorError(f"matchLabels: {problem}")
        requirements.append(Requirement(key, "=", (value,)))
    requirements.extend(_structured_requirement(i, e) for i, e in enumerate(expressions))
    return LabelSelector(tuple(sorted(requirements, key=lambda requirement: requirement.key)))


def format_label_selector(sel: Mapping[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` dict as selector text (``{}`` renders as "")."""
    return str(selector_from_label_selector_object(sel or {}))


# -- field selectors -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of ``(field, op, value)`` terms; ``==`` is stored as ``=``."""

    requirements: tuple[tuple[str, FieldOperator, str], ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's fields satisfy every term."""
        for field, operator, value in self.requirements:
            if (field_value(obj, field) == value) != (operator == "="):
                return False
        return True

    def required_value(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to, if any (lets a list become a get)."""
        for name, operator, value in self.requirements:
            if name == field and operator == "=":
                return value
        return None

    @property
    def empty(self) -> bool:
        """True when the selector has no terms and selects everything."""
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{_escape_field_value(v)}" for f, op, v in self.requirements)


def _escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append("".join(current))
            current = []
            continue
        current.append(char)
    terms.append("".join(current))
    return terms


def _unescape_field_value(text: str, value: str) -> str:
    result: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(
                    f"invalid field selector {text!r}: invalid escape sequence '\\{char}'"
                )
            result.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise SelectorError(
                f"invalid field selector {text!r}: unescaped {char!r} in value {value!r}"
            )
        else:
            result.append(char)
    if escaped:
        raise SelectorError(f"invalid field selector {text!r}: value {value!r} ends with '\\'")
    return "".join(result)


def _split_term(text: str, term: str) -> tuple[str, FieldOperator, str]:
    for index in range(len(term)):
        for symbol in ("!=", "==", "="):
            if term.startswith(symbol, index):
                field = term[:index].strip()
                if not field:
                    raise SelectorError(
                        f"invalid field selector {text!r}: {term!r} has no field name"
                    )
                value = _unescape_field_value(text, term[index + len(symbol) :].strip())
                return field, ("!=" if symbol == "!=" else "="), value
    raise SelectorError(
        f"invalid field selector {text!r}: can't understand {term!r} "
        "(expected field=value, field==value or field!=value)"
    )


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector string (``metadata.name=web,status.phase!=Failed``)."""
    terms = [term for term in _split_terms(text) if term.strip()]
    return FieldSelector(tuple(_split_term(text, term) for term in terms))


# Field labels whose value is not simply the dotted path: where to look, in order,
# and the zero value Kubernetes renders when the field is missing.
_FIELD_SOURCES: Mapping[tuple[str, str], tuple[tuple[str, ...], str]] = MappingProxyType(
    {
        ("Event", "source"): (("source.component", "reportingController"), ""),
        ("Event", "reportingComponent"): (("reportingController",), ""),
        ("Job", "status.successful"): (("status.succeeded",), "0"),
        ("ReplicaSet", "status.replicas"): (("status.replicas",), "0"),
        ("Node", "spec.unschedulable"): (("spec.unschedulable",), "false"),
    }
)


def _render_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return ""


def _lookup(obj: Mapping[str, Any], path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def field_value(obj: Mapping[str, Any], path: str, kind: str | None = None) -> str:
    """The string a field selector compares for ``path`` ("" or the zero value if missing)."""
    sources, zero = _FIELD_SOURCES.get((kind or str(obj.get("kind", "")), path), ((path,), ""))
    for source in sources:
        rendered = _render_scalar(_lookup(obj, source))
        if rendered:
            return rendered
    return zero


_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})

_SELECTABLE_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "Pod": frozenset(
            {
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            }
        ),
        "Event": frozenset(
            {
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            }
        ),
        "Secret": frozenset({"type"}),
        "Node": frozenset({"spec.unschedulable"}),
        "Namespace": frozenset({"status.phase"}),
        "Job": frozenset({"status.successful"}),
        "ReplicaSet": frozenset({"status.replicas"}),
    }
)


def supported_field(kind: str, field: str) -> bool:
    """Whether objects of ``kind`` may be selected on ``field``."""
    return field in _COMMON_FIELDS or field in _SELECTABLE_FIELDS.get(kind, frozenset())


def check_field_selector(kind: str, selector: FieldSelector) -> None:
    """Raise ``SelectorError("field label not supported: X")`` for a field ``kind`` lacks."""
    for field, _, _ in selector.requirements:
        if not supported_field(kind, field):
            raise SelectorError(f"field label not supported: {field}")
