"""Resource quantities parse to exact values; milli and whole values round up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator.api.quantity import QuantityError, parse_quantity, to_int, to_milli


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1", Decimal(1)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("2E-3", Decimal("0.002")),
        ("1E", Decimal(10**18)),  # a bare E is exa, as in Kubernetes
        ("1.5Gi", Decimal(3 * 2**29)),
        (".5", Decimal("0.5")),
        ("250u", Decimal("0.00025")),
        ("1k", Decimal(1000)),
        ("+3Ki", Decimal(3072)),
        (2, Decimal(2)),
        (0.25, Decimal("0.25")),
    ],
)
def test_quantities_parse_to_their_value(text: str | int | float, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "milli", "whole"),
    [
        ("250m", 250, 1),
        ("1", 1000, 1),
        ("0.1m", 1, 1),
        ("1Mi", 1048576000, 1048576),
        ("2", 2000, 2),
    ],
)
def test_milli_and_whole_values_round_up(text: str, milli: int, whole: int) -> None:
    assert to_milli(text) == milli
    assert to_int(text) == whole


@pytest.mark.parametrize("text", ["", "abc", "1Kb", "1 Gi", "--1", "1e", True, "1e40", "1m1"])
def test_malformed_quantities_are_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)
