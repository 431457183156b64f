"""String formats: which a schema may name, which Kubernetes checks, and how.

Kubernetes 1.31 validates a ``format`` only if its name, with dashes removed
(go-openapi's normalisation: ``date-time`` is ``datetime``), is in
apiextensions' supported list; any other format is stripped before
validation and never checked. Numeric formats (``int32``, ``int64``,
``float``, ``double``) are not in the list, so an ``int32`` field accepts
any integer, as in Kubernetes.

``format_warnings`` is the ``unrecognized format "x"`` warning of newer
servers (by type: strings take the supported list, integers only
int32/int64, numbers only float/double, other types none).

The checks follow kube-openapi's ``strfmt`` registry: Go's ``net``
parsers for addresses, go-openapi's regular expressions for UUIDs and host
names, ``time.Parse`` layouts for dates.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

INTEGER_FORMATS = frozenset({"int32", "int64"})
NUMBER_FORMATS = frozenset({"float", "double"})

UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
UUID3 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
UUID4 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
UUID5 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
HOSTNAME = re.compile(
    r"^([^\W_]((-?[^\W_]{0,62})?)|([^\W_](([\w-]{0,61}[^\W_])?)(\.)){1,}([^\W\d_]){2,63})$"
)
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
TIME_OF_DAY = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
DURATION_PART = re.compile(r"((\d+)\s*([A-Za-zµ]+))")
GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^[-+]?0$", re.ASCII)
DURATION_UNITS = (
    ("ns", "nano"),
    ("us", "µs", "micro"),
    ("ms", "milli"),
    ("s", "sec"),
    ("m", "min"),
    ("h", "hr", "hour"),
    ("d", "day"),
    ("w", "wk", "week"),
)
MAC = re.compile(
    r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$"
    r"|^([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){3}[0-9A-Fa-f]{4}$"
    r"|^([0-9A-Fa-f]{2}[:-]){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){9}[0-9A-Fa-f]{4}$"
)
EMAIL = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+$")
SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
RGBCOLOR = re.compile(
    r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])"
    r"\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"
)
BSON_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
CREDIT_CARD = re.compile(
    r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]"
    r"|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}"
    r"|(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})$"
)


def is_date(text: str) -> bool:
    match = DATE.match(text)
    if match is None:
        return False
    try:
        date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def is_date_time(text: str) -> bool:
    if len(text) < 4:
        return False
    parts = text.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    match = TIME_OF_DAY.match(parts[1])
    return match is not None and match[1] <= "23" and match[2] <= "59" and match[3] <= "59"


def is_duration(text: str) -> bool:
    if GO_DURATION.match(text):
        return True
    for match in DURATION_PART.finditer(text):
        unit = match[3].strip().lower()
        for variants in DURATION_UNITS:
            last = len(variants) - 1
            for i, variant in enumerate(variants):
                if (i == last and unit.startswith(variant)) or variant == unit:
                    return True
    return False


def is_hostname(text: str) -> bool:
    if not HOSTNAME.match(text) or len(text) > 255:
        return False
    return all(len(part) <= 63 for part in text.split("."))


def is_ipv4(text: str) -> bool:
    # Go's ParseIPSloppy takes dotted quads with leading zeros; IPv4-in-IPv6 has a dot too
    if "." not in text:
        return False
    return _parse_ip(text)


def is_ipv6(text: str) -> bool:
    return ":" in text and _parse_ip(text)


def _parse_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(_unpad(text))
    except ValueError:
        return False
    return True


def _unpad(text: str) -> str:
    if ":" in text:
        return text
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and 0 < len(p) <= 3 for p in parts):
        return ".".join(str(int(p)) for p in parts)
    return text


def is_cidr(text: str) -> bool:
    address, slash, bits = text.partition("/")
    if not slash or not bits.isdigit() or not _parse_ip(address):
        return False
    return int(bits) <= (128 if ":" in address else 32)


def is_uri(text: str) -> bool:
    # govalidator.IsRequestURI: net/url.ParseRequestURI (absolute URI or absolute path)
    if not text or any(c.isspace() for c in text):
        return False
    if text.startswith("/"):
        return True
    scheme = urlsplit(text).scheme
    return bool(scheme) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", scheme) is not None


def is_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def is_isbn10(text: str) -> bool:
    digits = re.sub(r"[\s-]", "", text)
    if not re.match(r"^\d{9}[\dX]$", digits):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
    return total % 11 == 0


def is_isbn13(text: str) -> bool:
    digits = re.sub(r"[\s-]", "", text)
    if not re.match(r"^\d{13}$", digits):
        return False
    total = sum((3 if i % 2 else 1) * int(c) for i, c in enumerate(digits))
    return total % 10 == 0


def is_credit_card(text: str) -> bool:
    digits = re.sub(r"[^0-9]", "", text)
    if not CREDIT_CARD.match(digits):
        return False
    total, double = 0, False
    for char in reversed(digits):
        value = int(char) * (2 if double else 1)
        total += value - 9 if value > 9 else value
        double = not double
    return total % 10 == 0


CHECKS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": lambda s: BSON_OBJECT_ID.match(s) is not None,
    "uri": is_uri,
    "email": lambda s: EMAIL.match(s) is not None,
    "hostname": is_hostname,
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "cidr": is_cidr,
    "mac": lambda s: MAC.match(s) is not None,
    "uuid": lambda s: UUID.match(s) is not None,
    "uuid3": lambda s: UUID3.match(s) is not None,
    "uuid4": lambda s: UUID4.match(s) is not None,
    "uuid5": lambda s: UUID5.match(s) is not None,
    "isbn": lambda s: is_isbn10(s) or is_isbn13(s),
    "isbn10": is_isbn10,
    "isbn13": is_isbn13,
    "creditcard": is_credit_card,
    "ssn": lambda s: SSN.match(s) is not None,
    "hexcolor": lambda s: HEXCOLOR.match(s) is not None,
    "rgbcolor": lambda s: RGBCOLOR.match(s) is not None,
    "byte": is_byte,
    "password": lambda s: True,
    "date": is_date,
    "duration": is_duration,
    "datetime": is_date_time,
}


def validated_format(schema: dict[str, Any]) -> str:
    """The ``format`` Kubernetes 1.31 checks for this node, ``""`` when it is stripped."""
    name = schema.get("format")
    if not isinstance(name, str) or not name:
        return ""
    return name if name.replace("-", "") in CHECKS else ""


def matches_format(name: str, text: str) -> bool:
    """Whether ``text`` is a valid ``name`` (a format ``validated_format`` kept)."""
    return CHECKS[name.replace("-", "")](text)


def is_recognized(name: str, type_name: Any) -> bool:
    """Whether a ``format`` means something for a node of ``type_name``."""
    if type_name in ("", None, "string"):
        return name.replace("-", "") in CHECKS
    if type_name == "integer":
        return name in INTEGER_FORMATS
    if type_name == "number":
        return name in NUMBER_FORMATS
    return False


def format_warnings(schema: Any) -> list[str]:
    """``unrecognized format "x"`` for every format the schema names but no server checks."""
    return [
        f"unrecognized format {_go_quote(node['format'])}"
        for node in _walk(schema)
        if isinstance(node.get("format"), str)
        and node["format"]
        and not is_recognized(node["format"], node.get("type"))
    ]


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _walk(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict):
        return
    yield schema
    for key in ("items", "additionalProperties", "not", "additionalItems"):
        yield from _walk(schema.get(key))
    items = schema.get("items")
    if isinstance(items, list):
        for item in items:
            yield from _walk(item)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            yield from _walk(sub)
    for key in ("properties", "patternProperties", "definitions", "dependencies"):
        children = schema.get(key)
        if isinstance(children, dict):
            for sub in children.values():
                yield from _walk(sub)
