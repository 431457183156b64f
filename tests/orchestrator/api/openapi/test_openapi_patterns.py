"""RE2 patterns on Python's ``re``, and values printed the way Go prints them."""

from __future__ import annotations

import pytest

from orchestrator.api.openapi.patterns import PatternError, compile_pattern
from orchestrator.api.validation_causes import go_float


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^[a-z]+$", "abc", True),
        ("^[a-z]+$", "abc\n", False),  # RE2's $ is the end of text
        (r"^\d+\z", "12", True),
        (r"^\d+$", "١٢", False),  # \d is ASCII in RE2
        ("^[[:alpha:]]+$", "abC", True),
        (r"^\p{L}+$", "héllo", True),
        ("b", "abc", True),  # unanchored, like Go's MatchString
    ],
)
def test_patterns_match_as_re2_does(pattern: str, text: str, matches: bool) -> None:
    assert (compile_pattern(pattern).search(text) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        ("(?<!a)b", "error parsing regexp: invalid or unsupported Perl syntax: `(?<!`"),
        (r"(a)\1", "error parsing regexp: invalid escape sequence: `\\1`"),
        ("a++", "error parsing regexp: invalid nested repetition operator: `++`"),
    ],
)
def test_patterns_re2_refuses_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match="error parsing regexp") as caught:
        compile_pattern(pattern)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (2.5, "2.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (1e-5, "1e-05"),
        (-1.5e7, "-1.5e+07"),
    ],
)
def test_floats_print_as_go_prints_them(value: float, text: str) -> None:
    assert go_float(value) == text
