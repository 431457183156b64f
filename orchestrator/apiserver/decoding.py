"""JSON and YAML request bodies decoded with limits, so no body can hurt the server.

Everything a client sends is decoded here (``wire.decode_body`` for objects,
``patching.parse_patch`` for patches), and every way a body can fail is a
``DecodeError`` (a ``ValueError``) that the API server answers 400:

- Nesting deeper than ``MAX_DEPTH`` (100 levels) is refused. Kubernetes
  allows 10,000, but Python walks objects recursively (copies, merges,
  validation, managed fields, server-side apply) and the interpreter stops
  near 1,000 frames: measured, a ConfigMap 400 deep still survives create
  and the three patches, 600 deep fails in the copy. 100 leaves room for the
  paths that recurse several frames a level; the deepest real objects
  (CustomResourceDefinition schemas with a whole PodSpec inside) are about
  40 deep. JSON is checked after orjson parses it (orjson itself stops at
  1,024 levels, before building them: a 3 MiB bomb is refused in
  milliseconds), by a walk without recursion that only bodies with more
  than 100 brackets need. YAML is checked while composing, before the
  deeper levels are parsed.
- JSON: integers beyond float64's range (orjson reads those as infinity)
  and lone UTF-16 surrogates (``"\\ud800"``, which cannot be written as
  UTF-8 later) are refused; other integers beyond 64 bits become floats, as
  Kubernetes' unstructured decoding makes them.
- YAML: aliases are counted while the document is composed, before any are
  expanded: each node's expanded size is known from its children, and the
  document is refused as go-yaml refuses it (``document contains excessive
  aliasing``: over 100 nodes reached through aliases, over 1,000 in all, and
  a share of aliased nodes above 99% up to 400,000 nodes, sliding to 10% at
  4,000,000). A document that passes is then made into a tree (no shared
  parts), which its count bounds. Values JSON cannot hold are refused
  naming the tag (``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``,
  ``.inf``/``.nan``, keys that are null or collections); scalar keys become
  strings and timestamps stay the text they were written as, as
  Kubernetes' YAML-to-JSON conversion (sigs.k8s.io/yaml) does. libyaml
  parses when PyYAML has it, the composer stays ours to count.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from orchestrator.api.copying import copy_json

MAX_DEPTH = 100
# YAML is decoded by Python code (libyaml only parses) at about 1.4 us a byte here, against
# 0.05 for JSON: 512 KiB is 0.7 s of the event loop. JSON in a YAML body (kubectl's
# server-side apply) is decoded as JSON, so only YAML written as YAML meets this limit (413).
MAX_YAML = 512 * 1024
_INT64 = 2**63


class DecodeError(ValueError):
    """A body that cannot be decoded within the limits; the message says why and where."""


class TooLarge(DecodeError):
    """A YAML body beyond ``MAX_YAML`` (answered 413)."""


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse a decoded value nested deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise DecodeError(f"exceeded max depth of {limit}")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def load_json(raw: bytes) -> Any:
    """A JSON value within the limits; ``DecodeError`` otherwise."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "recursion" in str(exc):  # orjson stops at 1,024 levels, before building them
            raise DecodeError(f"exceeded max depth of {MAX_DEPTH}") from None
        value = _load_json_leniently(raw)  # orjson is strict; the standard library says where
    if isinstance(value, (dict, list)) and raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        check_depth(value)  # fewer brackets than the limit cannot nest deeper than it
    return value


def _load_json_leniently(raw: bytes) -> Any:
    try:
        value = json.loads(raw, parse_int=_integer, parse_float=_float, parse_constant=_constant)
        json.dumps(value, ensure_ascii=False).encode()
    except json.JSONDecodeError as exc:
        raise DecodeError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not UTF-8 ({exc.reason})") from None
    except UnicodeEncodeError:
        raise DecodeError(
            "a string holds a lone UTF-16 surrogate (such as \\ud800), which is not a character"
        ) from None
    except RecursionError:
        raise DecodeError(f"exceeded max depth of {MAX_DEPTH}") from None
    return value


def _integer(text: str) -> int | float:
    if len(text) < 19:
        return int(text)
    if len(text) > 400:  # beyond float64 and near Python's 4,300-digit conversion limit
        raise DecodeError(f"the number {text[:20]}... ({len(text)} digits) is out of range")
    number = int(text)
    if -_INT64 <= number < _INT64:
        return number
    as_float = float(number)
    if math.isinf(as_float):
        raise DecodeError(f"the number {text[:20]}... ({len(text)} digits) is out of range")
    return as_float


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise DecodeError(f"the number {text[:20]} is out of range")
    return value


def _constant(text: str) -> float:
    raise DecodeError(f"{text} is not a JSON value")


# -- YAML ---------------------------------------------------------------------------------

_ALIAS_RATIO_LOW, _ALIAS_RATIO_HIGH = 400_000, 4_000_000


def allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's share of aliased nodes allowed in a document of ``decodes`` nodes."""
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / span


def excessive_aliasing(decodes: int, aliased: int) -> bool:
    return aliased > 100 and decodes > 1000 and aliased / decodes > allowed_alias_ratio(decodes)


class _CountingComposer(Composer):
    """Composes nodes while counting their expanded size and depth, before any expansion."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: dict[int, int] = {}  # id(node) -> nodes it stands for once expanded
        self.aliased = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:  # an alias of a node still being composed (a cycle)
                raise DecodeError(f"alias *{event.anchor} refers to a node that contains it")
            self.aliased += size
            return node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise DecodeError(f"exceeded max depth of {MAX_DEPTH}")
        node = super().compose_node(parent, index)
        self.depth -= 1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self.sizes[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self.sizes[id(k)] + self.sizes[id(v)] for k, v in node.value)
        self.sizes[id(node)] = size
        return node

    def compose_document(self) -> Any:
        node = super().compose_document()
        decodes = self.sizes.get(id(node), 0) if node is not None else 0
        if excessive_aliasing(decodes, self.aliased):
            raise DecodeError("document contains excessive aliasing")
        return node


_REFUSED_TAGS = {
    "tag:yaml.org,2002:binary": "!!binary",
    "tag:yaml.org,2002:set": "!!set",
    "tag:yaml.org,2002:omap": "!!omap",
    "tag:yaml.org,2002:pairs": "!!pairs",
}


class _JSONConstructor(SafeConstructor):
    """SafeConstructor, but only values JSON can hold, as Kubernetes converts YAML to JSON."""

    def construct_timestamp_text(self, node: yaml.ScalarNode) -> str:
        return str(self.construct_scalar(node))

    def construct_refused(self, node: yaml.Node) -> Any:
        tag = _REFUSED_TAGS.get(node.tag, node.tag)
        raise DecodeError(f"{_where(node)}: YAML {tag} values cannot be converted to JSON")

    def construct_json_float(self, node: yaml.ScalarNode) -> float:
        value = self.construct_yaml_float(node)
        if not math.isfinite(value):
            raise DecodeError(f"{_where(node)}: {node.value} is not a number JSON can hold")
        return value

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            mapping[_json_key(key, key_node)] = self.construct_object(value_node, deep=deep)
        return mapping


_JSONConstructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:timestamp": _JSONConstructor.construct_timestamp_text,
    "tag:yaml.org,2002:float": _JSONConstructor.construct_json_float,
    **dict.fromkeys(_REFUSED_TAGS, _JSONConstructor.construct_refused),
}


def _json_key(key: Any, node: yaml.Node) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return node.value if isinstance(node, yaml.ScalarNode) else str(key)
    kind = "null" if key is None else type(key).__name__
    raise DecodeError(f"{_where(node)}: unsupported map key of type {kind}: JSON keys are strings")


def _where(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1} column {mark.column + 1}"


try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML without libyaml: the pure-Python reader, scanner and parser
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _PyParser(Reader, Scanner, Parser):
        def __init__(self, stream: bytes) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)

    _Parser = _PyParser  # type: ignore[misc,assignment]


class _Loader(_CountingComposer, _Parser, _JSONConstructor, Resolver):
    def __init__(self, stream: bytes) -> None:
        _Parser.__init__(self, stream)
        _CountingComposer.__init__(self)
        _JSONConstructor.__init__(self)
        Resolver.__init__(self)


def load_yaml(raw: bytes) -> Any:
    """The one YAML document in ``raw`` as JSON values, within the limits; ``DecodeError``."""
    if raw.lstrip()[:1] in (b"{", b"["):  # JSON, as kubectl sends apply patches: decode it so
        try:
            return load_json(raw)
        except DecodeError:
            pass  # flow-style YAML that is not JSON
    if len(raw) > MAX_YAML:
        raise TooLarge(
            f"a YAML body may be at most {MAX_YAML} bytes (JSON up to the request limit): "
            f"this one is {len(raw)}"
        )
    loader = _Loader(raw)  # depth is counted by the composer: block nesting has no brackets
    try:
        value = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if mark is None:
            raise DecodeError(str(exc)) from None
        where = f"line {mark.line + 1} column {mark.column + 1}"
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise DecodeError(f"{where}: {what}") from None
    except yaml.YAMLError as exc:
        raise DecodeError(str(exc)) from None
    except RecursionError:
        raise DecodeError(f"exceeded max depth of {MAX_DEPTH}") from None
    finally:
        loader.dispose()
    if loader.aliased:
        value = copy_json(value)  # shared parts become separate ones; the count bounds the size
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise DecodeError("a string holds a character that is not valid UTF-8") from None
    return value
