"""Decoding requests and encoding responses in Kubernetes' wire format.

Bodies: JSON (also when Content-Type is absent, as kubectl 1.20 and the
Python client send), YAML, or, for the built-in kinds, Kubernetes' protobuf
(``orchestrator.api.protobuf``; kubectl 1.32+ sends it for ``create``).
A protobuf body for a kind without a protobuf form (custom resources) is
refused with 415, as Kubernetes does. Answers are JSON unless the client's
Accept prefers protobuf and the object has a protobuf form
(``object_response``); watches, Tables and errors stay JSON. Limits:
request bodies up to 3 MiB, stored objects up to 1.5 MiB (413 beyond).
Query booleans parse like Go's ``strconv.ParseBool`` because the Python client sends ``True``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from orchestrator.api import errors, protobuf
from orchestrator.api.jsoncodec import dumps
from orchestrator.apiserver import decoding

MAX_BODY = 3 * 1024 * 1024
MAX_OBJECT = 1536 * 1024
_INT64 = 2**63
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True, slots=True)
class Query:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    watch: bool = False
    allow_bookmarks: bool = False
    timeout_seconds: float = 0.0
    dry_run: bool = False
    field_validation: str = ""
    field_manager: str = ""
    include_object: str = "Metadata"
    propagation_policy: str = ""
    grace_period_seconds: int | None = None


_NO_QUERY = Query()


def parse_bool(name: str, value: str) -> bool:
    if value in _TRUE or value == "":
        return True
    if value in _FALSE:
        return False
    raise errors.BadRequest(f'invalid boolean for query parameter "{name}": {value!r}')


def parse_int64(name: str, value: str) -> int:
    """A query integer as Go's ``strconv.ParseInt(value, 10, 64)`` reads it: ASCII digits with
    an optional sign, within int64 (``int()`` also takes ``²``, ``1_000`` and 5,000 digits)."""
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise errors.BadRequest(
            f'invalid integer for query parameter "{name}": {value[:40]!r}: invalid syntax'
        )
    number = int(value) if len(digits) <= 19 else _INT64
    if not -_INT64 <= number < _INT64:
        raise errors.BadRequest(
            f'invalid integer for query parameter "{name}": {value[:40]!r}: value out of range'
        )
    return number


_int = parse_int64


def parse_query(request: Request) -> Query:
    if not request.scope.get("query_string"):
        return _NO_QUERY  # most writes carry none: skip building the multi-dict
    q = request.query_params
    dry_run = q.getlist("dryRun")
    for value in dry_run:
        if value != "All":
            raise errors.BadRequest(f'unsupported dryRun value {value!r}: only "All" is supported')
    validation = q.get("fieldValidation", "")
    if validation and validation not in ("Strict", "Warn", "Ignore"):
        raise errors.BadRequest(
            f"fieldValidation must be one of Strict, Warn, Ignore, not {validation!r}"
        )
    include = q.get("includeObject", "Metadata") or "Metadata"
    grace = q.get("gracePeriodSeconds")
    return Query(
        label_selector=q.get("labelSelector", ""),
        field_selector=q.get("fieldSelector", ""),
        limit=max(0, _int("limit", q["limit"])) if q.get("limit") else 0,  # <= 0: no limit
        continue_token=q.get("continue", ""),
        resource_version=q.get("resourceVersion", ""),
        watch=parse_bool("watch", q["watch"]) if "watch" in q else False,
        allow_bookmarks=(
            parse_bool("allowWatchBookmarks", q["allowWatchBookmarks"])
            if "allowWatchBookmarks" in q
            else False
        ),
        timeout_seconds=float(_int("timeoutSeconds", q["timeoutSeconds"]))
        if q.get("timeoutSeconds")
        else 0.0,
        dry_run=bool(dry_run),
        field_validation=validation,
        field_manager=q.get("fieldManager", ""),
        include_object=include,
        propagation_policy=q.get("propagationPolicy", ""),
        grace_period_seconds=_int("gracePeriodSeconds", grace) if grace else None,
    )


async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit():  # refused before reading a byte
        if len(length) > 12 or int(length) > MAX_BODY:
            raise too_large(int(length) if len(length) <= 18 else MAX_BODY + 1, MAX_BODY)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large(size, MAX_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(size: int, limit: int) -> errors.RequestEntityTooLarge:
    return errors.RequestEntityTooLarge(
        f"Request entity too large: limit is {limit} bytes, got at least {size}"
    )


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


T = TypeVar("T")
# A body this large is decoded in a worker thread: a 512 KiB YAML takes ~100 ms to parse,
# which on the event loop would stall every other client for as long. Smaller ones are
# decoded in place (a thread hop costs more than they do).
OFF_LOOP_BYTES = 64 * 1024


async def off_loop(raw: bytes, decode: Callable[..., T], *args: Any) -> T:
    """``decode(*args)`` for a body of ``raw``: in a worker thread when the body is large."""
    if len(raw) < OFF_LOOP_BYTES:
        return decode(*args)
    return await asyncio.to_thread(decode, *args)


def decode_body(raw: bytes, content_type: str, protobuf_kind: str = "") -> Any:
    """An object from a JSON or YAML body; errors name the line and column.

    ``protobuf_kind``: the kind a protobuf body must hold here ("" = protobuf refused).
    """
    if content_type == protobuf.MEDIA_TYPE and protobuf_kind:
        return decode_protobuf(raw, protobuf_kind)
    if not raw.strip():
        raise errors.BadRequest("the request body is empty; an object was expected")
    if content_type in ("", "application/json", "*/*", "text/plain"):
        try:
            return decoding.load_json(raw)
        except decoding.DecodeError as exc:
            raise errors.BadRequest(f"error decoding JSON body: {exc}") from None
    if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            return decoding.load_yaml(raw)
        except decoding.TooLarge as exc:
            raise errors.RequestEntityTooLarge(f"Request entity too large: {exc}") from None
        except decoding.DecodeError as exc:
            raise errors.BadRequest(f"error decoding YAML body: {exc}") from None
    raise errors.UnsupportedMediaType(
        f"the body of the request was in an unknown format ({content_type}) - accepted media "
        "types include: application/json, application/yaml"
    )


def decode_protobuf(raw: bytes, kind: str) -> dict[str, Any]:
    """The object of a protobuf body; 400 naming the field when the bytes are not one.

    Nesting is limited as for JSON: a few hundred bytes of nested messages (or raw JSON in a
    ``fieldsV1``) would otherwise store what a JSON body of the same object is refused for.
    A body past the stored-object limit is refused before it is decoded: Kubernetes stores
    the protobuf form, so no object that large is stored there either, and its JSON (field
    names, base64) is larger still. 3 MiB of empty repeated messages took 1.9 s and 215 MiB
    to decode before being refused as too large.
    """
    if len(raw) > MAX_OBJECT:
        raise errors.RequestEntityTooLarge(
            f"Request entity too large: the object is {len(raw)} bytes in protobuf, "
            f"the limit is {MAX_OBJECT}"
        )
    try:
        obj = protobuf.decode_object(raw)
        decoding.check_depth(obj)
    except (protobuf.ProtobufError, decoding.DecodeError) as exc:
        raise errors.BadRequest(f"error decoding protobuf body: {exc}") from exc
    if obj["kind"] != kind:
        raise errors.BadRequest(
            f"the kind of the object ({obj['kind']}) does not match the URL ({kind})"
        )
    return obj


def check_object_size(obj: Any) -> None:
    check_encoded_size(dumps(obj))


def check_encoded_size(data: bytes) -> bytes:
    """``data`` (an object as stored) if it is within the object size limit; 413 otherwise."""
    if len(data) > MAX_OBJECT:
        raise errors.RequestEntityTooLarge(
            f"Request entity too large: the object is {len(data)} bytes, the limit is {MAX_OBJECT}"
        )
    return data


def warning_header(warnings: list[str]) -> str:
    """The ``Warning`` header value: ``299 - "text"`` per warning, duplicates dropped."""
    unique = dict.fromkeys(warnings)
    return ", ".join(f'299 - "{_header_text(w)}"' for w in unique)


def _header_text(text: str) -> str:
    """``text`` as a quoted-string's content: a header holds printable ASCII only (a control
    character or a lone surrogate from a client's field name would otherwise break the
    response), so others are written as ``\\uXXXX``."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in text)


def json_response(obj: Any, status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = {}
    if warnings:
        headers["Warning"] = warning_header(warnings)
    return Response(dumps(obj), status_code=status, media_type="application/json", headers=headers)


def prefers_protobuf(accept: str) -> bool:
    """Whether an Accept header ranks bare protobuf above JSON (ties: the first listed)."""
    if "protobuf" not in accept:
        return False
    best, best_q = "", -1.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif name.strip() == "as":
                media = ""  # a Table or partial-object answer: never a protobuf object here
        if (
            media in (protobuf.MEDIA_TYPE, "application/json", "*/*", "application/*")
            and q > best_q
        ):
            best, best_q = media, q
    return best == protobuf.MEDIA_TYPE


def object_response(
    accept: str, obj: Any, status: int = 200, warnings: list[str] | None = None
) -> Response:
    """``obj`` in protobuf if ``accept`` prefers it and its kind has a protobuf form; else JSON."""
    if isinstance(obj, dict) and prefers_protobuf(accept) and protobuf.encodable(obj):
        try:
            data = protobuf.encode_object(obj)
        except protobuf.ProtobufError:
            return json_response(obj, status, warnings)  # a value JSON holds and protobuf cannot
        headers = {"Warning": warning_header(warnings)} if warnings else {}
        return Response(data, status_code=status, media_type=protobuf.MEDIA_TYPE, headers=headers)
    return json_response(obj, status, warnings)


def add_warnings(response: Response, warnings: list[str]) -> Response:
    """Put ``warnings`` before any the response already carries."""
    if not warnings:
        return response
    existing = response.headers.get("warning")
    value = warning_header(warnings)
    response.headers["Warning"] = f"{value}, {existing}" if existing else value
    return response


def error_response(exc: errors.APIError) -> Response:
    return json_response(exc.to_status(), exc.code)


def wants_table(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "as=Table" in accept and "g=meta.k8s.io" in accept
