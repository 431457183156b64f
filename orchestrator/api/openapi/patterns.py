"""Schema ``pattern``s: RE2 syntax run on Python's ``re``.

Kubernetes compiles ``pattern`` with Go's ``regexp`` (RE2) and matches it
unanchored. Python's ``re`` reads most RE2 the same way; the differences that
change answers are rewritten before compiling:

- ``$`` outside a class (without the ``m`` flag) means end of text in RE2,
  but "end or before a final newline" in Python: it becomes ``\\Z``; RE2's
  ``\\z`` is Python's ``\\Z``.
- ``\\d``, ``\\w``, ``\\s``, ``\\b`` are ASCII in RE2: compiled with ``re.ASCII``.
- POSIX classes (``[[:alpha:]]``) and the common Unicode classes (``\\pL``,
  ``\\p{L}``, ``\\p{Lu}``, ``\\p{N}``) are spelled out.

What RE2 rejects and Python accepts (lookaround, backreferences, possessive
or atomic groups) is refused here too, with Go's wording, so a CRD that
Kubernetes refuses is refused; ``compile_pattern`` raises ``PatternError``.
Compiled patterns are cached by source text (a CRD's few hundred patterns
are compiled once per process, not once per request).
"""

from __future__ import annotations

import re
from functools import lru_cache

POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
# Approximations of the Unicode general categories RE2 knows, for Python's ``re``.
UNICODE_CLASSES = {
    "L": "A-Za-zªµºÀ-ÖØ-öø-ˁͰ-ϿЀ-ԯ֐-׿؀-ۿ぀-ヿ一-鿿가-힯",
    "Lu": "A-ZÀ-ÖØ-Þ",
    "Ll": "a-zß-öø-ÿ",
    "N": "0-9\u0660-\u0669\u06f0-\u06f9\u0966-\u096f",
    "Nd": "0-9\u0660-\u0669\u06f0-\u06f9\u0966-\u096f",
}
UNSUPPORTED_GROUPS = ("(?=", "(?!", "(?<=", "(?<!", "(?>", "(?#")


class PatternError(ValueError):
    """A pattern Go's ``regexp`` would not compile; the text follows Go's error."""


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled form of an RE2 ``pattern`` (cached), or ``PatternError``."""
    translated = _translate(pattern)
    try:
        return re.compile(translated, re.ASCII if _ascii_ok(pattern) else 0)
    except re.error as exc:
        raise PatternError(f"error parsing regexp: {exc.msg}: `{pattern}`") from exc


def _ascii_ok(pattern: str) -> bool:
    # re.ASCII also narrows (?i) to ASCII; keep Unicode classes working when asked for
    return "\\p" not in pattern and "\\P" not in pattern


def _translate(pattern: str) -> str:
    for group in UNSUPPORTED_GROUPS:
        if group in pattern:
            raise PatternError(
                f"error parsing regexp: invalid or unsupported Perl syntax: `{group}`"
            )
    multiline = re.match(r"\(\?[a-zA-Z]*m", pattern) is not None
    out: list[str] = []
    i, in_class, n = 0, False, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            i = _escape(pattern, i, out, in_class)
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                if name.lstrip("^") in POSIX_CLASSES and not name.startswith("^"):
                    out.append(POSIX_CLASSES[name])
                    i = end + 2
                    continue
            if char == "]" and not _class_start(out):
                in_class = False
            out.append("\\[" if char == "[" else char)
        elif char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
        elif char == "$" and not multiline:
            out.append("\\Z")
        elif char in "*+?}" and pattern.startswith("+", i + 1):
            raise PatternError(
                f"error parsing regexp: invalid nested repetition operator: `{char}+`"
            )
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _class_start(out: list[str]) -> bool:
    # a ']' right after '[' or '[^' is a literal in both dialects
    return bool(out) and (out[-1] == "[" or (out[-1] == "^" and len(out) > 1 and out[-2] == "["))


def _escape(pattern: str, i: int, out: list[str], in_class: bool) -> int:
    nxt = pattern[i + 1]
    if nxt.isdigit() and nxt != "0":
        raise PatternError(f"error parsing regexp: invalid escape sequence: `\\{nxt}`")
    if nxt == "z" and not in_class:
        out.append("\\Z")
        return i + 2
    if nxt == "Z":
        raise PatternError("error parsing regexp: invalid escape sequence: `\\Z`")
    if nxt in "pP":
        name, end = _class_name(pattern, i + 2)
        chars = UNICODE_CLASSES.get(name)
        if chars is None:
            raise PatternError(
                f"error parsing regexp: invalid character class range: `\\{nxt}{name}`"
            )
        if in_class and nxt == "P":
            raise PatternError(f"error parsing regexp: invalid character class range: `\\P{name}`")
        out.append(chars if in_class else f"[{'^' if nxt == 'P' else ''}{chars}]")
        return end
    out.append(pattern[i : i + 2])
    return i + 2


def _class_name(pattern: str, start: int) -> tuple[str, int]:
    if pattern.startswith("{", start):
        end = pattern.find("}", start)
        if end < 0:
            raise PatternError("error parsing regexp: invalid character class range: `\\p{`")
        return pattern[start + 1 : end], end + 1
    return pattern[start : start + 1], start + 1
