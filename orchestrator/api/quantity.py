"""Resource quantities (``500m``, ``1``, ``512Mi``, ``1G``, ``1e3``) as exact numbers.

Kubernetes' ``resource.Quantity`` grammar: a signed decimal number followed by
at most one suffix, either binary (``Ki Mi Gi Ti Pi Ei``, powers of 1024),
decimal SI (``n u m`` below one, ``k M G T P E`` above), or a decimal exponent
(``e3``, ``E-2``). A bare ``E`` is exa, as in Kubernetes. JSON numbers are
accepted too (``cpu: 2`` arrives as an int).

Values are ``Decimal`` so that nothing is lost in parsing; ``to_milli`` and
``to_int`` round up, as Kubernetes' ``MilliValue()`` and ``Value()`` do, so a
request of ``0.1m`` cpu still counts. A malformed quantity raises
``QuantityError`` (a ``ValueError``) naming it; the API server's validation
rejects such values before they are stored, so readers (the scheduler, the
kubelet) meet it only on objects written around validation.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?"
)

_MULTIPLIERS: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_LIMIT = Decimal(2**63)  # Kubernetes keeps quantities in an int64


class QuantityError(ValueError):
    """A value that is not a resource quantity."""


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a quantity: ``"100m"`` -> 0.1, ``"1Ki"`` -> 1024."""
    if isinstance(value, bool):
        raise QuantityError(f"quantity {value!r} is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"quantity {value!r} is not a finite number")
        return Decimal(repr(value))
    text = str(value).strip()
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(
            f"quantity {value!r} must be a number with an optional suffix "
            "(m, k, M, G, Ki, Mi, Gi, ... or an exponent such as e3)"
        )
    try:
        number = Decimal(match["number"])
        suffix = match["suffix"] or ""
        if suffix[:1] in ("e", "E") and len(suffix) > 1:
            result = number.scaleb(int(suffix[1:]))
        else:
            result = number * _MULTIPLIERS[suffix]
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise QuantityError(f"quantity {value!r} is out of range") from exc
    if result.copy_abs() >= _LIMIT:
        raise QuantityError(f"quantity {value!r} is out of range")
    return result


def to_milli(value: str | int | float) -> int:
    """Thousandths, rounded up: cpu ``"250m"`` -> 250, ``"1"`` -> 1000."""
    return math.ceil(parse_quantity(value) * 1000)


def to_int(value: str | int | float) -> int:
    """Whole units, rounded up: memory ``"1Mi"`` -> 1048576, ``"0.5"`` -> 1."""
    return math.ceil(parse_quantity(value))
