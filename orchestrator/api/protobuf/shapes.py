"""Messages that JSON shows as something other than an object of their fields.

Each entry turns a message's decoded fields (every field present on the wire,
``bytes`` fields as bytes) into its JSON value, and back. ``None`` from
``to_json`` means "no value": the field is left out, as Go leaves out a zero
``Time``. Upstream sources: apimachinery ``pkg/apis/meta/v1/time_proto.go``,
``micro_time_proto.go``, ``fieldsv1``, ``pkg/api/resource/quantity_proto.go``,
``pkg/util/intstr/intstr.go``, ``pkg/runtime/types_proto.go`` and
apiextensions ``v1/marshal.go`` (the JSONSchemaPropsOr* types).

``to_json`` raises ``ValueError`` for wire values with no JSON form (the
decoder turns it into a 400 naming the field): a time outside the years
0001-9999 (Go's ``Time.MarshalJSON`` refuses them too), and raw JSON that is
not strict JSON. Raw JSON is read with orjson alone, without the standard
library's leniency the JSON codec keeps for bodies: NaN, lone surrogates,
bytes that are not UTF-8 and nesting past 1,024 levels are refused, as a
JSON body's decoder refuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orchestrator.api import jsoncodec

ToJSON = Callable[[dict[str, Any]], Any]
FromJSON = Callable[[Any], dict[str, Any]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANOS = 1_000_000_000


def _instant(seconds: int, nanos: int = 0) -> datetime:
    """The instant ``seconds`` + ``nanos`` after the epoch; nanos outside [0, 1e9) carry over
    into seconds, as Go's ``time.Unix`` does."""
    carry, nanos = divmod(nanos, _NANOS)
    try:
        return _EPOCH + timedelta(seconds=seconds + carry, microseconds=nanos // 1000)
    except OverflowError:
        raise ValueError(
            f"Time.MarshalJSON: year outside of range [0,9999] ({seconds} seconds)"
        ) from None


def _seconds(value: str) -> tuple[int, int]:
    if not isinstance(value, str):
        raise ValueError(f"a time must be an RFC 3339 string, not {value!r}")
    when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return delta.days * 86400 + delta.seconds, delta.microseconds * 1000


def time_to_json(fields: dict[str, Any]) -> str | None:
    seconds = fields.get("seconds", 0)
    if not seconds and not fields.get("nanos"):
        return None  # Go's zero Time: null in JSON
    return _instant(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_from_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    seconds, _ = _seconds(value)  # Time is to the second in JSON; so is what we write
    return {"seconds": seconds}


def micro_time_to_json(fields: dict[str, Any]) -> str | None:
    seconds, nanos = fields.get("seconds", 0), fields.get("nanos", 0)
    if not seconds and not nanos:
        return None
    return _instant(seconds, nanos).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def micro_time_from_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    seconds, nanos = _seconds(value)
    return {"seconds": seconds, "nanos": nanos}


def quantity_to_json(fields: dict[str, Any]) -> str | None:
    return fields.get("string") or None


def quantity_from_json(value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"a quantity must be a string or a number, not {value!r}")
    return {"string": value if isinstance(value, str) else str(value)}


def int_or_string_to_json(fields: dict[str, Any]) -> int | str:
    if fields.get("type", 0) == 1:
        return str(fields.get("strVal", ""))
    return int(fields.get("intVal", 0))


def int_or_string_from_json(value: Any) -> dict[str, Any]:
    # Go writes all three fields, whichever the type; so do we.
    if isinstance(value, str):
        return {"type": 1, "intVal": 0, "strVal": value}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"type": 0, "intVal": value, "strVal": ""}
    raise ValueError(f"an int-or-string must be an integer or a string, not {value!r}")


def raw_json_to_json(fields: dict[str, Any]) -> Any:
    raw = fields.get("raw") or fields.get("Raw") or b""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"raw JSON is not valid: {exc}") from None


def _raw_json_from_json(key: str) -> FromJSON:
    return lambda value: {key: jsoncodec.dumps(value)}


def or_array_to_json(fields: dict[str, Any]) -> Any:
    if fields.get("jSONSchemas"):
        return fields["jSONSchemas"]
    return fields.get("schema")


def or_array_from_json(value: Any) -> dict[str, Any]:
    return {"jSONSchemas": value} if isinstance(value, list) else {"schema": value}


def or_bool_to_json(fields: dict[str, Any]) -> Any:
    if "schema" in fields:
        return fields["schema"]
    return bool(fields.get("allows", False))


def or_bool_from_json(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"allows": value}
    return {"allows": True, "schema": value}


def or_strings_to_json(fields: dict[str, Any]) -> Any:
    if fields.get("property"):
        return fields["property"]
    return fields.get("schema")


def or_strings_from_json(value: Any) -> dict[str, Any]:
    return {"property": value} if isinstance(value, list) else {"schema": value}


SHAPES: dict[str, tuple[ToJSON, FromJSON]] = {
    "meta.v1.Time": (time_to_json, time_from_json),
    "meta.v1.MicroTime": (micro_time_to_json, micro_time_from_json),
    "meta.v1.FieldsV1": (raw_json_to_json, _raw_json_from_json("Raw")),
    "resource.Quantity": (quantity_to_json, quantity_from_json),
    "intstr.IntOrString": (int_or_string_to_json, int_or_string_from_json),
    # The envelope itself: read as its fields, ``raw`` kept as bytes (envelope.py).
    "runtime.Unknown": (lambda fields: fields, lambda value: value),
    "runtime.RawExtension": (raw_json_to_json, _raw_json_from_json("raw")),
    "apiextensions.v1.JSON": (raw_json_to_json, _raw_json_from_json("raw")),
    "apiextensions.v1.JSONSchemaPropsOrArray": (or_array_to_json, or_array_from_json),
    "apiextensions.v1.JSONSchemaPropsOrBool": (or_bool_to_json, or_bool_from_json),
    "apiextensions.v1.JSONSchemaPropsOrStringArray": (or_strings_to_json, or_strings_from_json),
}
