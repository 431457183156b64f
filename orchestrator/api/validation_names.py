"""Checks of names, label keys and values, config keys, ports and quantities.

Each ``check_*`` returns the list of problems with one string, empty when it
is fine, in the words of Kubernetes' ``k8s.io/apimachinery/pkg/util/
validation`` (regex included) so that the messages users see match what
a real cluster prints. Callers wrap them into ``Cause``s with the field path.
"""

from __future__ import annotations

import re

from orchestrator.api.quantity import QuantityError, parse_quantity

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(" + QUALIFIED_NAME + r")?"
CONFIG_KEY = r"[-._a-zA-Z0-9]+"
QUANTITY = r"[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?"

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63
IANA_SVC_NAME_MAX = 15

DNS1123_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{DNS1123_LABEL}')"
)
DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    f"regex used for validation is '{DNS1123_SUBDOMAIN}')"
)
DNS1035_LABEL_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'abc-123', regex used for validation is '{DNS1035_LABEL}')"
)
QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
    f"regex used for validation is '{QUALIFIED_NAME}')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"
)
CONFIG_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    f"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '{CONFIG_KEY}')"
)
QUANTITY_MESSAGE = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
PORT_RANGE_MESSAGE = "must be between 1 and 65535, inclusive"


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _full(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def check_dns1123_label(value: str) -> list[str]:
    """Container, volume and namespace names."""
    problems = [] if len(value) <= DNS1123_LABEL_MAX else [_too_long(DNS1123_LABEL_MAX)]
    return problems + ([] if _full(DNS1123_LABEL, value) else [DNS1123_LABEL_MESSAGE])


def check_dns1123_subdomain(value: str) -> list[str]:
    """Most object names."""
    limit = DNS1123_SUBDOMAIN_MAX
    problems = [] if len(value) <= limit else [_too_long(limit)]
    return problems + ([] if _full(DNS1123_SUBDOMAIN, value) else [DNS1123_SUBDOMAIN_MESSAGE])


def check_dns1035_label(value: str) -> list[str]:
    """Service names: a label that starts with a letter."""
    problems = [] if len(value) <= DNS1123_LABEL_MAX else [_too_long(DNS1123_LABEL_MAX)]
    return problems + ([] if _full(DNS1035_LABEL, value) else [DNS1035_LABEL_MESSAGE])


def check_qualified_name(value: str) -> list[str]:
    """Label and annotation keys: ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            f"a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    problems: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems += [f"prefix part {p}" for p in check_dns1123_subdomain(prefix)]
    if not name:
        return [*problems, "name part must be non-empty"]
    if len(name) > QUALIFIED_NAME_MAX:
        problems.append(f"name part {_too_long(QUALIFIED_NAME_MAX)}")
    if not _full(QUALIFIED_NAME, name):
        problems.append(f"name part {QUALIFIED_NAME_MESSAGE}")
    return problems


def check_label_value(value: str) -> list[str]:
    problems = [] if len(value) <= LABEL_VALUE_MAX else [_too_long(LABEL_VALUE_MAX)]
    return problems + ([] if _full(LABEL_VALUE, value) else [LABEL_VALUE_MESSAGE])


def check_config_key(value: str) -> list[str]:
    """ConfigMap and Secret data keys (they become file names)."""
    problems = [] if len(value) <= DNS1123_SUBDOMAIN_MAX else [_too_long(DNS1123_SUBDOMAIN_MAX)]
    if not _full(CONFIG_KEY, value):
        problems.append(CONFIG_KEY_MESSAGE)
    if value == ".":
        problems.append("must not be '.'")
    elif value == "..":
        problems.append("must not be '..'")
    elif value.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def check_port_name(value: str) -> list[str]:
    """An IANA_SVC_NAME (RFC 6335): container port names, named target ports."""
    problems = [] if len(value) <= IANA_SVC_NAME_MAX else [_too_long(IANA_SVC_NAME_MAX)]
    if not _full(r"[-a-z0-9]+", value):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        problems.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", value):
        problems.append("must contain at least one letter (a-z)")
    if value.startswith("-") or value.endswith("-"):
        problems.append("must not begin or end with a hyphen")
    return problems


def check_port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else [PORT_RANGE_MESSAGE]


QUANTITY_RANGE_MESSAGE = "must be less than 2^63 (9223372036854775807) in its unit"


def check_quantity(value: str | int | float) -> list[str]:
    """A resource quantity: ``500m``, ``1Gi``, ``2``, ``1e3``."""
    if not isinstance(value, int | float) and not _full(QUANTITY, value):
        return [QUANTITY_MESSAGE]
    try:  # in range too: the scheduler and kubelet count it as an int64 of milli-units
        negative = parse_quantity(value) < 0
    except QuantityError:
        return [QUANTITY_RANGE_MESSAGE]
    return ["must be greater than or equal to 0"] if negative else []


def check_env_var_name(value: str) -> list[str]:
    """Kubernetes 1.30+: any printable ASCII except '='."""
    if value and all(" " <= c <= "~" and c != "=" for c in value):
        return []
    return [
        "a valid environment variable name must consist only of printable ASCII characters "
        "other than '='"
    ]
