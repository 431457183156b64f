"""What a CEL rule's text says, read without evaluating it.

The CEL library we evaluate with (``common-expression-language``, see
``cel.py``) parses and runs expressions but has no type checker: cel-go,
which Kubernetes uses, refuses ``self.replicas2`` or ``isSortd()`` when the
CRD is written, while the library would only fail on each object later. This
module scans a rule's tokens for the few facts that let us refuse such rules
up front and plan the evaluation:

- calls (``name(`` or ``.name(``, with ``math.`` style namespaces joined) to
  check against the functions the environment has;
- free identifiers (not after ``.``, not called, not a comprehension's
  variable) to check against ``self`` and ``oldSelf``;
- ``self.a.b`` selection chains, with the column of each ``.``, to check
  against the schema;
- the comprehension nesting depth and token count, the inputs of our cost
  estimate (the library does not count work);
- which top-level fields of ``self``/``oldSelf`` a rule reads, so the value
  handed to the library can leave out fields no rule looks at, and which of
  those it only tests for presence (``has(self.f)`` and nothing else), whose
  values it need not be handed at all.

It is a lexer plus bracket matching, not a parser: it can miss an error (the
library then reports it when evaluating), but it never invents one for a
rule cel-go accepts, because it only looks at shapes that are unambiguous in
CEL's grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>[rR]?[bB]?[rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\?|\?\.|&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
KEYWORDS = frozenset({"true", "false", "null", "in"})
# Names a CEL environment declares as values: the type denotations.
TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type", "dyn"}
)
NAMESPACES = frozenset({"math", "sets", "strings", "base64", "lists", "optional"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int


@dataclass(frozen=True)
class Reference:
    """A name the rule uses, with the 0-based offset cel-go would report it at."""

    name: str
    offset: int


@dataclass(frozen=True)
class Selection:
    """``root.f1.f2...``: the names selected and the offset of each ``.``."""

    root: str
    names: tuple[str, ...]
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class RuleShape:
    calls: tuple[Reference, ...]
    free_names: tuple[Reference, ...]
    selections: tuple[Selection, ...]
    comprehension_depth: int
    size: int
    # Top-level fields of self/oldSelf read, or None when the whole value is used.
    self_fields: frozenset[str] | None
    # Those of self_fields read only as ``has(self.f)`` / ``has(oldSelf.f)``.
    presence_only: frozenset[str] = frozenset()


def tokenize(source: str) -> list[Token]:
    """The rule's tokens, whitespace dropped."""
    return [
        Token(m.lastgroup or "other", m.group(), m.start())
        for m in _TOKEN.finditer(source)
        if m.lastgroup != "space"
    ]


def read_shape(source: str) -> RuleShape:
    """The facts the module docstring lists, from one scan of the tokens."""
    tokens = tokenize(source)
    count = len(tokens)

    def at(i: int) -> Token | None:
        return tokens[i] if 0 <= i < count else None

    def is_op(i: int, text: str) -> bool:
        tok = at(i)
        return tok is not None and tok.kind == "op" and tok.text == text

    bound = _comprehension_variables(tokens)
    calls: list[Reference] = []
    free: list[Reference] = []
    selections: list[Selection] = []
    self_fields: set[str] | None = set()
    read_values: set[str] = set()  # fields whose value (not only presence) is read
    for i, tok in enumerate(tokens):
        if tok.kind != "ident":
            continue
        after_dot = is_op(i - 1, ".") or is_op(i - 1, ".?")
        called = is_op(i + 1, "(")
        if called:
            if after_dot and i >= 2 and _is_namespace(tokens, i - 2):
                calls.append(Reference(f"{tokens[i - 2].text}.{tok.text}", tok.offset))
            elif after_dot:
                calls.append(Reference(tok.text, tokens[i + 1].offset))
            else:
                calls.append(Reference(tok.text, tok.offset))
            continue
        if after_dot or tok.text in KEYWORDS or tok.text in TYPE_NAMES or tok.text in bound:
            continue
        if tok.text in NAMESPACES and is_op(i + 1, "."):
            continue
        free.append(Reference(tok.text, tok.offset))
        if tok.text in ("self", "oldSelf"):
            selection = _selection(tokens, i)
            selections.append(selection)
            if self_fields is not None:
                if selection.names:
                    self_fields.add(selection.names[0])
                    if not _is_presence_test(tokens, i, selection):
                        read_values.add(selection.names[0])
                else:
                    self_fields = None
    return RuleShape(
        calls=tuple(calls),
        free_names=tuple(free),
        selections=tuple(selections),
        comprehension_depth=_comprehension_depth(tokens),
        size=count,
        self_fields=None if self_fields is None else frozenset(self_fields),
        presence_only=frozenset() if self_fields is None else frozenset(self_fields - read_values),
    )


def _is_presence_test(tokens: list[Token], i: int, selection: Selection) -> bool:
    """Whether the selection at ``i`` is exactly ``has(self.f)``: the macro, not a method."""
    return (
        len(selection.names) == 1
        and i >= 2
        and tokens[i - 1].text == "("
        and tokens[i - 2].kind == "ident"
        and tokens[i - 2].text == "has"
        and not (i >= 3 and tokens[i - 3].text in (".", ".?"))
        and i + 3 < len(tokens)
        and tokens[i + 3].text == ")"
    )


def _is_namespace(tokens: list[Token], i: int) -> bool:
    tok = tokens[i]
    before = tokens[i - 1] if i > 0 else None
    return (
        tok.kind == "ident"
        and tok.text in NAMESPACES
        and not (before is not None and before.kind == "op" and before.text == ".")
    )


def _selection(tokens: list[Token], i: int) -> Selection:
    """The field names selected after the identifier at ``i``, stopping at a call."""
    names: list[str] = []
    offsets: list[int] = []
    j = i + 1
    while j + 1 < len(tokens) and tokens[j].text == "." and tokens[j + 1].kind == "ident":
        if j + 2 < len(tokens) and tokens[j + 2].text == "(":
            break  # a method call on the value, not a field
        names.append(tokens[j + 1].text)
        offsets.append(tokens[j].offset)
        j += 2
    return Selection(tokens[i].text, tuple(names), tuple(offsets))


def _comprehension_variables(tokens: list[Token]) -> set[str]:
    """Identifiers bound by ``.all(x, ...)`` and the other macros."""
    bound: set[str] = set()
    for i in range(1, len(tokens) - 3):
        if (
            tokens[i].kind == "ident"
            and tokens[i].text in MACROS
            and tokens[i - 1].text == "."
            and tokens[i + 1].text == "("
            and tokens[i + 2].kind == "ident"
            and tokens[i + 3].text == ","
        ):
            bound.add(tokens[i + 2].text)
            # map(k, v, expr) and other two-variable forms bind a second name
            if i + 5 < len(tokens) and tokens[i + 4].kind == "ident" and tokens[i + 5].text == ",":
                bound.add(tokens[i + 4].text)
    return bound


def _comprehension_depth(tokens: list[Token]) -> int:
    """How deeply macro calls nest inside each other's arguments."""
    depth = deepest = 0
    stack: list[bool] = []  # one entry per open parenthesis: does it open a macro call?
    for i, tok in enumerate(tokens):
        if tok.text == "(":
            macro = i >= 2 and tokens[i - 1].text in MACROS and tokens[i - 2].text == "."
            stack.append(macro)
            if macro:
                depth += 1
                deepest = max(deepest, depth)
        elif tok.text == ")" and stack:
            if stack.pop():
                depth -= 1
    return deepest
