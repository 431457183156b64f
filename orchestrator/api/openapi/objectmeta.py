"""ObjectMeta as a typed round trip would leave it.

Kubernetes decodes a custom resource's ``metadata`` (and each embedded
resource's) into its ``ObjectMeta`` struct and writes it back: keys the
struct lacks are dropped (and reported as unknown fields under Strict),
values of the wrong type are dropped ("malformed"), empty values vanish
(every field is ``omitempty``), a zero ``creationTimestamp`` is removed and
timestamps are rewritten in RFC 3339 UTC. ``coerce_object_meta`` does this
to a plain dict, returning the new dict and appending unknown paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.api.timestamps import parse_time, rfc3339


def _string(value: Any) -> Any:
    return value if isinstance(value, str) else _MALFORMED


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _MALFORMED
    if isinstance(value, float) and not value.is_integer():
        return _MALFORMED
    return int(value)


def _time(value: Any) -> Any:
    if value is None:
        return None
    parsed = parse_time(value)
    return _MALFORMED if parsed is None else rfc3339(parsed)


def _string_map(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return _MALFORMED
    return dict(value)


def _string_list(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return _MALFORMED
    return list(value)


class _Malformed:
    pass


_MALFORMED: Any = _Malformed()

OWNER_REFERENCE_STRINGS = ("apiVersion", "kind", "name", "uid")
OWNER_REFERENCE_FLAGS = ("controller", "blockOwnerDeletion")
MANAGED_FIELDS_STRINGS = ("manager", "operation", "apiVersion", "fieldsType", "subresource")


def _owner_references(value: Any, path: str, unknown: list[str]) -> Any:
    if value is None:
        return None
    if not isinstance(value, list):
        return _MALFORMED
    result = []
    for i, ref in enumerate(value):
        if not isinstance(ref, dict):
            return _MALFORMED
        out: dict[str, Any] = {}
        for key in OWNER_REFERENCE_STRINGS:
            text = ref.get(key, "")
            if not isinstance(text, str):
                return _MALFORMED
            out[key] = text
        for key in OWNER_REFERENCE_FLAGS:
            flag = ref.get(key)
            if flag is not None and not isinstance(flag, bool):
                return _MALFORMED
            if flag is not None:
                out[key] = flag
        known = (*OWNER_REFERENCE_STRINGS, *OWNER_REFERENCE_FLAGS)
        unknown.extend(f"{path}[{i}].{key}" for key in ref if key not in known)
        result.append(out)
    return result


def _managed_fields(value: Any, path: str, unknown: list[str]) -> Any:
    if value is None:
        return None
    if not isinstance(value, list):
        return _MALFORMED
    result = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            return _MALFORMED
        out: dict[str, Any] = {}
        for key, item in entry.items():
            if key in MANAGED_FIELDS_STRINGS:
                if not isinstance(item, str):
                    return _MALFORMED
                if item:
                    out[key] = item
            elif key == "time":
                stamp = _time(item)
                if stamp is _MALFORMED:
                    return _MALFORMED
                if stamp is not None:
                    out[key] = stamp
            elif key == "fieldsV1":
                if item is not None:
                    out[key] = item
            else:
                unknown.append(f"{path}[{i}].{key}")
        result.append(out)
    return result


SIMPLE: dict[str, Callable[[Any], Any]] = {
    "name": _string,
    "generateName": _string,
    "namespace": _string,
    "selfLink": _string,
    "uid": _string,
    "resourceVersion": _string,
    "generation": _integer,
    "creationTimestamp": _time,
    "deletionTimestamp": _time,
    "deletionGracePeriodSeconds": _integer,
    "labels": _string_map,
    "annotations": _string_map,
    "finalizers": _string_list,
}
NESTED = {"ownerReferences": _owner_references, "managedFields": _managed_fields}


def coerce_object_meta(meta: dict[str, Any], path: str, unknown: list[str]) -> dict[str, Any]:
    """``meta`` as ObjectMeta round-trips it; unknown keys appended to ``unknown`` as paths."""
    result: dict[str, Any] = {}
    for key, value in meta.items():
        simple = SIMPLE.get(key)
        if simple is not None:
            converted = simple(value)
        elif key in NESTED:
            converted = NESTED[key](value, f"{path}.{key}", unknown)
        else:
            unknown.append(f"{path}.{key}")
            continue
        if converted is _MALFORMED or converted is None:
            continue
        if converted in ("", 0, {}, []) and key != "deletionGracePeriodSeconds":
            continue  # omitempty; the grace period is a pointer, so its 0 stays
        result[key] = converted
    return result
