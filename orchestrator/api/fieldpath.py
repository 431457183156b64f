"""Sets of field paths in Kubernetes' FieldsV1 form, and the set algebra on them.

A field set is what ``metadata.managedFields[].fieldsV1`` holds: a tree of
JSON objects whose keys are path elements,

* ``f:<name>``  a field of an object (``f:spec``, ``f:replicas``);
* ``k:<json>``  an item of a list keyed by some of its fields
  (``k:{"containerPort":80,"protocol":"TCP"}``, keys in name order);
* ``v:<json>``  an item of a set list (``v:"example.com/finalizer"``);
* ``i:<n>``     an item of a list by position (only for lists that have
  neither keys nor set semantics but are walked anyway);

and whose values are the subtree below. A path is a *member* of the set
when its node is a leaf (``{}``) or carries the ``"."`` key: ``"."`` marks a
node that is owned itself and also has owned children (a list item whose
fields are owned too). The root is never a member.

The sets are kept in exactly this form, not parsed into another one, so
reading and writing ``managedFields`` costs nothing, and the algebra below
(union, difference, intersection) works node by node on the dicts. No
function here mutates its arguments: results share unchanged subtrees with
the inputs, so treat every set as immutable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

FieldSet = dict[str, Any]
Path = tuple[str, ...]
SELF = "."


def field(name: str) -> str:
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    """``k:{...}`` for a keyed list item: its key fields in name order, compact JSON."""
    ordered = {k: keys[k] for k in sorted(keys)}
    return "k:" + json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def value_element(value: Any) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def index_element(i: int) -> str:
    return f"i:{i}"


def is_member(node: FieldSet) -> bool:
    return not node or SELF in node


def _strip(node: FieldSet) -> FieldSet:
    return {k: v for k, v in node.items() if k != SELF} if SELF in node else node


def _node(children: FieldSet, member: bool) -> FieldSet | None:
    """A node from its children and whether it is a member itself (None: nothing left)."""
    if member:
        return {**children, SELF: {}} if children else {}
    return children or None


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Every path in ``a`` or ``b`` (sets at the root: never members themselves)."""
    if not b:
        return a
    if not a:
        return b
    out = _strip(a) if SELF in a else dict(a)
    for k, sub in b.items():
        if k != SELF:
            mine = out.get(k)
            out[k] = sub if mine is None else _union_node(mine, sub)
    return out


def _union_node(a: FieldSet, b: FieldSet) -> FieldSet:
    if a is b:
        return a
    node = _node(union(_strip(a), _strip(b)), is_member(a) or is_member(b))
    return node if node is not None else {}


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """The paths of ``a`` that are not in ``b``."""
    out: FieldSet = {}
    for k, sub in a.items():
        if k == SELF:
            continue
        other = b.get(k) if k in b else None
        if other is None:
            out[k] = sub
            continue
        kept = _node(difference(sub, other), is_member(sub) and not is_member(other))
        if kept is not None:
            out[k] = kept
    return out


def intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    """The paths in both ``a`` and ``b``."""
    out: FieldSet = {}
    if not a or not b:
        return out
    for k, sub in a.items():
        if k == SELF:
            continue
        other = b.get(k)
        if other is None:
            continue
        both = _node(intersection(sub, other), is_member(sub) and is_member(other))
        if both is not None:
            out[k] = both
    return out


def members(fields: FieldSet, prefix: Path = ()) -> Iterator[Path]:
    """Every member path, in the sorted order Kubernetes prints them."""
    for k in sorted(k for k in fields if k != SELF):
        sub = fields[k]
        path = (*prefix, k)
        if is_member(sub):
            yield path
        yield from members(sub, path)


def contains_under(fields: FieldSet, path: Path) -> bool:
    """Whether ``path`` or any path below it is in the set."""
    node = fields
    for element in path:
        sub = node.get(element)
        if sub is None:
            return False
        node = sub
    return True


def path_string(path: Path) -> str:
    """``.spec.template.spec.containers[name="web"].image``, as Kubernetes prints paths."""
    out = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            keys = json.loads(rest)
            out.append(
                "[" + ",".join(f"{k}={json.dumps(keys[k], ensure_ascii=False)}" for k in keys) + "]"
            )
        elif kind == "v":
            out.append(f"[={rest}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


def is_valid(fields: Any) -> bool:
    """Whether ``fields`` is a well-formed FieldsV1 tree (keys are path elements)."""
    if not isinstance(fields, dict):
        return False
    for k, sub in fields.items():
        if not isinstance(sub, dict):
            return False
        if k == SELF:
            if sub:
                return False
            continue
        kind, sep, rest = k.partition(":")
        if not sep or kind not in ("f", "k", "v", "i"):
            return False
        if kind in ("k", "v"):
            try:
                value = json.loads(rest)
            except ValueError:
                return False
            if kind == "k" and not isinstance(value, dict):
                return False
        if kind == "i" and not (rest.isascii() and rest.isdigit()):
            return False
        if not is_valid(sub):
            return False
    return True
