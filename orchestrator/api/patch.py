"""The three PATCH flavours the API server accepts, as pure functions over JSON dicts.

* ``apply_merge_patch``: RFC 7386 (``application/merge-patch+json``).
* ``apply_json_patch``: RFC 6902 (``application/json-patch+json``).
* ``apply_strategic_merge_patch``: Kubernetes' strategic merge patch
  (``application/strategic-merge-patch+json``), what ``kubectl apply`` sends for built-in kinds.

None of them touches its inputs: the target and the patch are deep-copied once on entry and the
result is built from those copies, so a failed patch leaves nothing half-applied and the caller's
objects (often straight from a cache) stay as they were.

Errors: ``MalformedPatch`` (the API server answers 400) is a body that is not a patch of the
declared type at all: a JSON patch that is not a list of operations, an operation without ``op``,
a merge patch that is not an object, an unknown ``$patch`` directive. Its parent ``PatchError``
(answered 422) is a well-formed patch that cannot apply: a missing path, a failed ``test``.

Limits (Kubernetes', from CVE-2019-1002100 and CVE-2019-11253): a JSON patch holds at most
``MAX_OPERATIONS`` operations (``TooManyOperations``, answered 413), and its ``copy`` operations
may add at most ``MAX_COPY_BYTES`` in all (``CopyTooLarge``, answered 422), counted as each copy
is made, so 21 copies doubling a value are refused at the one that crosses 3 MiB instead of after
building a gigabyte. Merge and strategic patches only add values the patch itself holds, so the
request body limit bounds them.

Strategic merge needs to know, per list, whether and by which key it merges. Kubernetes reads that
from Go struct tags; here a small table maps the *path* of a list (field names from the object
root, list positions left out) to a ``ListRule``, because one field name can mean different things
(``ports`` merges by ``containerPort`` in a container but by ``port`` in a Service spec). Pod specs
are found under a per-kind root (``spec`` for a Pod, ``spec.template.spec`` for a Deployment...).
A list with no rule is replaced whole, as Kubernetes does for ``args``, ``tolerations`` or
Endpoints ``subsets``. Rules on ``metadata`` and ``status.conditions`` hold for every kind, so a
kind this module does not know is patched like a merge patch except for those, and its ``$patch``
directives are still honoured and stripped.

Deliberate differences from Kubernetes' implementation:
* without ``$setElementOrder``, new elements of a merged list are appended in patch order
  (Kubernetes puts them first); with it, the order follows Kubernetes (listed elements in the
  listed order, server-only elements kept next to their old neighbours);
* ``{"$patch": "delete"}`` as a map value removes that key (Kubernetes leaves ``{}``);
* directives never reach the result, even inside values the object did not have before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from orchestrator.api.copying import copy_json

__all__ = [
    "CopyTooLarge",
    "MalformedPatch",
    "PatchError",
    "TooManyOperations",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "find_list_rule",
]

Path = tuple[str, ...]


class PatchError(ValueError):
    """A patch that cannot apply to this object (answered with 422)."""


class MalformedPatch(PatchError):
    """A body that is structurally not a patch of the declared type (answered with 400)."""


MAX_OPERATIONS = 10_000
MAX_COPY_BYTES = 3 * 1024 * 1024


class TooManyOperations(MalformedPatch):
    """A JSON patch with more than ``MAX_OPERATIONS`` operations (answered with 413)."""


class CopyTooLarge(PatchError):
    """JSON patch copies adding more than ``MAX_COPY_BYTES`` (answered with 422)."""


# --------------------------------------------------------------------------- merge patch


def apply_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch and return the new object."""
    if not isinstance(patch, dict):
        raise MalformedPatch(f"merge patch must be a JSON object, not {_json_type(patch)}")
    result: dict[str, Any] = _merge_values(copy_json(target), copy_json(patch))
    return result


def _merge_values(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_values(result.get(key), value)
    return result


# --------------------------------------------------------------------------- json patch

_OPERATIONS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def apply_json_patch(target: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch (operations in order, all or nothing)."""
    if not isinstance(ops, list):
        raise MalformedPatch(f"json patch must be a JSON array, not {_json_type(ops)}")
    check_operation_count(ops)
    patching = _JsonPatching(copy_json(target))
    try:
        for index, op in enumerate(ops):
            patching.apply(index, op)
        doc = patching.result()
    except RecursionError:
        raise PatchError("json patch nests the object too deeply") from None
    if not isinstance(doc, dict):
        raise PatchError(f"json patch turned the object into {_json_type(doc)}")
    return doc


def check_operation_count(ops: list[Any]) -> None:
    if len(ops) > MAX_OPERATIONS:
        raise TooManyOperations(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(ops)}"
        )


class _JsonPatching:
    """One JSON patch being applied: the document, and what its copies share.

    A ``copy`` puts the very value it copies at its destination, marked shared, instead of
    duplicating it: an operation that changes something inside a shared value first copies
    each shared container on its way down (one level at a time, marking the children it now
    shares), so neither place sees the other's change, and copying a value into one of its
    own children cannot make a cycle. What each copy adds is still counted against
    ``MAX_COPY_BYTES`` as the compact JSON it stands for, and the size of a shared value is
    remembered (it can no longer change), so 21 copies that double a value are counted in
    21 short steps and refused at the one that crosses the limit, without building anything.
    The result is unshared once, at the end, bounded by the same limit."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.copied = 0  # what copies have added so far, as compact JSON
        self.shared: dict[int, Any] = {}  # id -> value: kept alive, so ids are not reused
        self.sizes: dict[int, int] = {}  # id of a shared value -> its size

    def apply(self, index: int, op: Any) -> None:
        if not isinstance(op, dict):
            raise MalformedPatch(f"json patch operation {index}: must be an object")
        name, pointer = op.get("op"), op.get("path")
        if name not in _OPERATIONS:
            raise MalformedPatch(
                f"json patch operation {index}: op must be one of {sorted(_OPERATIONS)}, "
                f"not {name!r}"
            )
        where = f"json patch operation {index} ({name} {pointer})"
        path = _parse_pointer(pointer, where, "path")
        if name in ("add", "replace", "test") and "value" not in op:
            raise MalformedPatch(f"{where}: value is missing")
        if name == "add":
            self._add(path, copy_json(op["value"]), where)
        elif name == "remove":
            self._remove(path, where)
        elif name == "replace":
            _resolve(self.doc, path, where)  # replace needs the target (rollout undo relies on it)
            self._replace(path, copy_json(op["value"]), where)
        elif name == "test":
            if not _json_equal(_resolve(self.doc, path, where), op["value"]):
                raise PatchError(f"{where}: test failed, the value differs")
        else:
            source = _parse_pointer(op.get("from"), where, "from")
            if name == "copy":
                self._add(path, self._counted(_resolve(self.doc, source, where)), where)
                return
            if path[: len(source)] == source and len(path) > len(source):
                raise PatchError(f"{where}: cannot move a value into one of its own children")
            self._add(path, self._remove(source, where), where)

    def result(self) -> Any:
        return copy_json(self.doc) if self.shared else self.doc

    def _counted(self, value: Any) -> Any:
        """``value``, shared, once what it adds is within what copies may add in all."""
        if isinstance(value, (dict, list)):
            self.shared[id(value)] = value  # first, so that its size is remembered
        self.copied += self._size(value)
        if self.copied > MAX_COPY_BYTES:
            raise CopyTooLarge(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{self.copied}, exceeding the limit {MAX_COPY_BYTES}"
            )
        return value

    def _size(self, value: Any) -> int:
        """The length of ``value`` as compact JSON (strings counted in characters)."""
        if isinstance(value, dict):
            known = self.sizes.get(id(value))
            if known is None:
                known = 1 + max(len(value), 1) + sum(len(k) + 3 for k in value)
                known += sum(self._size(v) for v in value.values())
        elif isinstance(value, list):
            known = self.sizes.get(id(value))
            if known is None:
                known = 1 + max(len(value), 1) + sum(self._size(v) for v in value)
        elif isinstance(value, str):
            return len(value) + 2
        else:
            return len(json.dumps(value))
        if id(value) in self.shared:
            self.sizes[id(value)] = known
        return known

    def _parent(self, path: Path, where: str) -> Any:
        """The container holding ``path``'s last step, made private all the way down."""
        if id(self.doc) in self.shared:
            self.doc = self._unshared(self.doc)
        node = self.doc
        for token in path[:-1]:
            key: str | int
            if isinstance(node, dict) and token in node:
                key = token
            elif isinstance(node, list):
                key = _array_index(node, token, where, allow_end=False)
            else:
                raise PatchError(f"{where}: path does not exist")
            child = node[key]
            if id(child) in self.shared:
                child = node[key] = self._unshared(child)
            node = child
        return node

    def _unshared(self, node: Any) -> Any:
        """A one-level copy of a shared container; what it holds is shared from now on."""
        own = dict(node) if isinstance(node, dict) else list(node)
        for value in own.values() if isinstance(own, dict) else own:
            if isinstance(value, (dict, list)):
                self.shared[id(value)] = value
        return own

    def _add(self, path: Path, value: Any, where: str) -> None:
        if not path:
            self.doc = value
            return
        parent, token = self._parent(path, where), path[-1]
        if isinstance(parent, dict):
            parent[token] = value
        elif isinstance(parent, list):
            parent.insert(_array_index(parent, token, where, allow_end=True), value)
        else:
            raise PatchError(f"{where}: parent is {_json_type(parent)}, not an object or array")

    def _replace(self, path: Path, value: Any, where: str) -> None:
        if not path:
            self.doc = value
            return
        parent = self._parent(path, where)
        if isinstance(parent, list):
            parent[_array_index(parent, path[-1], where, allow_end=False)] = value
        else:
            parent[path[-1]] = value  # in place, so the key keeps its position

    def _remove(self, path: Path, where: str) -> Any:
        if not path:
            raise PatchError(f"{where}: cannot remove the whole object")
        parent, token = self._parent(path, where), path[-1]
        if isinstance(parent, dict) and token in parent:
            return parent.pop(token)
        if isinstance(parent, list):
            return parent.pop(_array_index(parent, token, where, allow_end=False))
        raise PatchError(f"{where}: path does not exist")


def _parse_pointer(pointer: Any, where: str, field: str) -> Path:
    if not isinstance(pointer, str):
        raise MalformedPatch(f"{where}: {field} must be a JSON pointer string")
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise MalformedPatch(f"{where}: {field} {pointer!r} must start with '/'")
    tokens = pointer[1:].split("/")
    if any(re.search(r"~(?![01])", token) for token in tokens):
        raise MalformedPatch(f"{where}: {field} {pointer!r} has a '~' not followed by 0 or 1")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def _resolve(doc: Any, path: Path, where: str) -> Any:
    node = doc
    for token in path:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(node, token, where, allow_end=False)]
        else:
            raise PatchError(f"{where}: path does not exist")
    return node


def _array_index(array: list[Any], token: str, where: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(array)
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"{where}: {token!r} is not an array index")
    index = int(token)
    if index > len(array) or (index == len(array) and not allow_end):
        raise PatchError(f"{where}: index {index} is out of range (length {len(array)})")
    return index


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return False
    return bool(left == right)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# --------------------------------------------------------------------------- merge rules


@dataclass(frozen=True)
class ListRule:
    """How strategic merge treats one list: by ``merge_key``, or as a set of scalars if None."""

    merge_key: str | None


SCALAR_SET = ListRule(merge_key=None)

_CONTAINER_LISTS = {
    "env": ListRule("name"),
    "ports": ListRule("containerPort"),
    "volumeMounts": ListRule("mountPath"),
    "volumeDevices": ListRule("devicePath"),
}
_POD_SPEC_LISTS: Mapping[Path, ListRule] = MappingProxyType(
    {
        ("volumes",): ListRule("name"),
        ("imagePullSecrets",): ListRule("name"),
        ("resourceClaims",): ListRule("name"),
        ("schedulingGates",): ListRule("name"),
        ("hostAliases",): ListRule("ip"),
        ("topologySpreadConstraints",): ListRule("topologyKey"),
        **{
            (containers,): ListRule("name")
            for containers in ("containers", "initContainers", "ephemeralContainers")
        },
        **{
            (containers, field): rule
            for containers in ("containers", "initContainers", "ephemeralContainers")
            for field, rule in _CONTAINER_LISTS.items()
        },
    }
)
# Where each kind keeps its pod spec.
_POD_SPEC_ROOTS: Mapping[str, Path] = MappingProxyType(
    {
        "Pod": ("spec",),
        "PodTemplate": ("template", "spec"),
        "Deployment": ("spec", "template", "spec"),
        "ReplicaSet": ("spec", "template", "spec"),
        "ReplicationController": ("spec", "template", "spec"),
        "StatefulSet": ("spec", "template", "spec"),
        "DaemonSet": ("spec", "template", "spec"),
        "Job": ("spec", "template", "spec"),
        "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    }
)
_KIND_LISTS: Mapping[str, Mapping[Path, ListRule]] = MappingProxyType(
    {
        "Service": MappingProxyType({("spec", "ports"): ListRule("port")}),
        "Node": MappingProxyType(
            {("status", "addresses"): ListRule("type"), ("spec", "podCIDRs"): SCALAR_SET}
        ),
        "Pod": MappingProxyType(
            {("status", "podIPs"): ListRule("ip"), ("status", "hostIPs"): ListRule("ip")}
        ),
        # kubectl apply sends only the changed fields of a webhook, keyed by its name
        "MutatingWebhookConfiguration": MappingProxyType({("webhooks",): ListRule("name")}),
        "ValidatingWebhookConfiguration": MappingProxyType({("webhooks",): ListRule("name")}),
    }
)
# ObjectMeta is the same in every kind, also inside pod templates: matched on the path's tail.
_METADATA_LISTS: Mapping[str, ListRule] = MappingProxyType(
    {"ownerReferences": ListRule("uid"), "finalizers": SCALAR_SET}
)


def find_list_rule(kind: str, path: Path) -> ListRule | None:
    """The merge rule for the list at ``path`` in a ``kind`` object, None if it is replaced."""
    if len(path) >= 2 and path[-2] == "metadata" and path[-1] in _METADATA_LISTS:
        return _METADATA_LISTS[path[-1]]
    if path == ("status", "conditions"):
        return ListRule("type")
    rule = _KIND_LISTS.get(kind, {}).get(path)
    if rule is not None:
        return rule
    root = _POD_SPEC_ROOTS.get(kind)
    if root is not None and path[: len(root)] == root:
        return _POD_SPEC_LISTS.get(path[len(root) :])
    return None


# --------------------------------------------------------------------------- strategic merge

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_DELETED = object()  # what merging a ``{"$patch": "delete"}`` map yields
_ABSENT = object()


def apply_strategic_merge_patch(
    target: dict[str, Any], patch: dict[str, Any], kind: str
) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to an object of ``kind``; no directive is kept."""
    if not isinstance(patch, dict):
        raise MalformedPatch(
            f"strategic merge patch must be a JSON object, not {_json_type(patch)}"
        )
    source = target if isinstance(target, dict) else {}
    merged = _StrategicMerge(kind).merge_map(copy_json(source), copy_json(patch), ())
    return {} if merged is _DELETED else merged


@dataclass(frozen=True)
class _StrategicMerge:
    """One strategic merge; carries the kind so list rules can be looked up by path."""

    kind: str

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any], path: Path) -> Any:
        directive = patch.get(_PATCH, _ABSENT)
        if directive == "delete":
            return _DELETED
        if directive == "replace":
            rest = {k: v for k, v in patch.items() if k != _PATCH}
            return self.merge_map({}, rest, path)
        if directive not in (_ABSENT, "merge"):
            raise MalformedPatch(f"{_where(path)}: unknown $patch directive {directive!r}")
        result = self._retain_keys(original, patch, path)
        for key, value in patch.items():
            if key.startswith("$") and _is_directive(key):
                continue
            if value is None:
                result.pop(key, None)
                continue
            merged = self._merge_value(result.get(key, _ABSENT), value, (*path, key))
            if merged is _DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
        for key, value in patch.items():
            if key.startswith(_DELETE_FROM):
                self._delete_from_primitive_list(result, key[len(_DELETE_FROM) :], value, path)
        for key, value in patch.items():
            if key.startswith(_SET_ORDER):
                field = key[len(_SET_ORDER) :]
                self._set_element_order(result, original.get(field), field, value, path)
        return result

    def _merge_value(self, original: Any, patch: Any, path: Path) -> Any:
        if isinstance(patch, dict):
            return self.merge_map(original if isinstance(original, dict) else {}, patch, path)
        if isinstance(patch, list):
            return self._merge_list(original if isinstance(original, list) else [], patch, path)
        return patch

    def _merge_list(self, original: list[Any], patch: list[Any], path: Path) -> list[Any]:
        rule = find_list_rule(self.kind, path)
        if rule is None:
            return [self._clean(item, path) for item in patch if not _has_patch_directive(item)]
        if rule.merge_key is None:
            return self._merge_scalar_set(original, patch, path)
        return self._merge_keyed_list(original, patch, rule.merge_key, path)

    def _clean(self, value: Any, path: Path) -> Any:
        """A patch value as it should be stored: directives applied, nulls dropped."""
        if isinstance(value, dict):
            cleaned = self.merge_map({}, value, path)
            return {} if cleaned is _DELETED else cleaned
        return value

    def _merge_scalar_set(self, original: list[Any], patch: list[Any], path: Path) -> list[Any]:
        replace = False
        result = list(original)
        for item in patch:
            if isinstance(item, dict) and _PATCH in item:
                if item[_PATCH] != "replace":
                    raise MalformedPatch(
                        f"{_where(path)}: unsupported list directive {item[_PATCH]!r}"
                    )
                replace = True
        if replace:
            result = []
        for item in patch:
            if not _has_patch_directive(item) and not any(_json_equal(item, r) for r in result):
                result.append(item)
        return result

    def _merge_keyed_list(
        self, original: list[Any], patch: list[Any], merge_key: str, path: Path
    ) -> list[Any]:
        replace = False
        deleted: list[Any] = []
        updates: list[dict[str, Any]] = []
        for position, item in enumerate(patch):
            if not isinstance(item, dict):
                raise MalformedPatch(
                    f"{_where(path)}: element {position} must be an object merged by {merge_key!r}"
                )
            directive = item.get(_PATCH, _ABSENT)
            if directive == "replace":
                replace = True
            elif directive == "delete" and merge_key in item:
                deleted.append(item[merge_key])
            elif directive is not _ABSENT:
                raise MalformedPatch(
                    f"{_where(path)}: element {position} has $patch {directive!r}"
                    f" (list elements take 'replace', or 'delete' with {merge_key!r})"
                )
            elif merge_key not in item:
                raise MalformedPatch(
                    f"{_where(path)}: element {position} has no merge key {merge_key!r}"
                )
            else:
                updates.append(item)
        if replace:
            return [self._clean(item, path) for item in updates]
        result = [
            item
            for item in original
            if not any(_json_equal(_identity(item, merge_key), d) for d in deleted)
        ]
        for item in updates:
            position = _position(result, item[merge_key], merge_key)
            if position < 0:
                result.append(self._clean(item, path))
            else:
                result[position] = self.merge_map(result[position], item, path)
        return result

    def _retain_keys(
        self, original: dict[str, Any], patch: dict[str, Any], path: Path
    ) -> dict[str, Any]:
        retained = patch.get(_RETAIN_KEYS, _ABSENT)
        if retained is _ABSENT:
            return dict(original)
        if not isinstance(retained, list) or not all(isinstance(k, str) for k in retained):
            raise MalformedPatch(f"{_where(path)}: $retainKeys must be a list of field names")
        for key, value in patch.items():
            if value is not None and not _is_directive(key) and key not in retained:
                raise MalformedPatch(
                    f"{_where(path)}: field {key!r} is set by the patch but not in $retainKeys"
                )
        return {k: v for k, v in original.items() if k in retained}

    def _delete_from_primitive_list(
        self, result: dict[str, Any], field: str, values: Any, path: Path
    ) -> None:
        if not isinstance(values, list):
            raise MalformedPatch(f"{_where((*path, field))}: $deleteFromPrimitiveList needs a list")
        current = result.get(field)
        if isinstance(current, list):
            result[field] = [i for i in current if not any(_json_equal(i, v) for v in values)]

    def _set_element_order(
        self, result: dict[str, Any], before: Any, field: str, order: Any, path: Path
    ) -> None:
        if not isinstance(order, list):
            raise MalformedPatch(f"{_where((*path, field))}: $setElementOrder needs a list")
        merged = result.get(field)
        rule = find_list_rule(self.kind, (*path, field))
        if not isinstance(merged, list) or rule is None:
            return
        key = rule.merge_key
        server = before if isinstance(before, list) else []
        result[field] = _order_elements(merged, order, server, lambda item: _identity(item, key))


def _order_elements(
    merged: list[Any], order: list[Any], server: list[Any], identity: Callable[[Any], Any]
) -> list[Any]:
    """Kubernetes' ordering: listed elements in the listed order, the others woven in.

    An element the order does not list keeps its place relative to the elements it sat next to
    in the live object (``server``); when that cannot decide, listed elements come first.
    """
    wanted = [identity(item) for item in order]
    live = [identity(item) for item in server]
    listed = [item for item in merged if _index(wanted, identity(item)) >= 0]
    others = [item for item in merged if _index(wanted, identity(item)) < 0]
    listed.sort(key=lambda item: _index(wanted, identity(item)))
    # Unlisted elements the live object did not have (an inconsistent patch) go last.
    others.sort(key=lambda item: _index(live, identity(item)) % (len(live) + 1))
    result: list[Any] = []
    while listed or others:
        if not listed:
            result.append(others.pop(0))
        elif not others:
            result.append(listed.pop(0))
        else:
            mine, theirs = _index(live, identity(others[0])), _index(live, identity(listed[0]))
            take_other = mine >= 0 and theirs >= 0 and mine < theirs
            result.append((others if take_other else listed).pop(0))
    return result


def _identity(item: Any, merge_key: str | None) -> Any:
    if merge_key is not None and isinstance(item, dict):
        return item.get(merge_key, _ABSENT)
    return item


def _index(values: list[Any], wanted: Any) -> int:
    return next((i for i, v in enumerate(values) if _json_equal(v, wanted)), -1)


def _position(items: list[Any], value: Any, merge_key: str) -> int:
    return _index([_identity(item, merge_key) for item in items], value)


def _is_directive(key: str) -> bool:
    return key in (_PATCH, _RETAIN_KEYS) or key.startswith((_SET_ORDER, _DELETE_FROM))


def _has_patch_directive(item: Any) -> bool:
    return isinstance(item, dict) and _PATCH in item


def _where(path: Path) -> str:
    return "strategic merge patch at " + (".".join(path) or "the object root")
