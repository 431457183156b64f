"""Validation errors in Knative's words: ``FieldError`` lists and how they print.

Knative's webhook answers a refused object with one text built from a tree of
field errors (``knative.dev/pkg/apis/field_error.go``): each error has a
message, the field paths it concerns and optional details; paths are built
inside out (``via("spec")`` prefixes every path, ``[0]`` joins the field
before it); at the end, errors with the same message and details are merged
(their paths united and sorted), sorted by message, and printed one a line
as ``<message>: <path>, <path>`` (details on the next line). Clients and
tests compare these texts, so the rules are kept exactly, including the
splitting of every path part on "." (an annotation key such as
``autoscaling.knative.dev/min-scale`` is joined back unchanged).

Here a tree is a flat list (Knative flattens it before printing anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

CURRENT = ""  # apis.CurrentField: the field being validated itself


@dataclass(frozen=True)
class FieldError:
    message: str
    paths: tuple[str, ...] = ()
    details: str = ""


Errors = list[FieldError]


def _is_index(part: str) -> bool:
    return part.startswith("[") and part.endswith("]")


def flatten(parts: Iterable[str]) -> str:
    out: list[str] = []
    for part in parts:
        for p in part.split("."):
            if p == CURRENT:
                continue
            if out and _is_index(p):
                out[-1] += p
            else:
                out.append(p)
    return ".".join(out)


def via(errors: Iterable[FieldError], *prefix: str) -> Errors:
    """The errors seen from a parent: ``prefix`` put before every path."""
    return [replace(e, paths=tuple(flatten([*prefix, p]) for p in e.paths)) for e in errors]


def via_index(errors: Iterable[FieldError], index: int) -> Errors:
    return via(errors, f"[{index}]")


def via_field_index(errors: Iterable[FieldError], field: str, index: int) -> Errors:
    return via(via_index(errors, index), field)


def via_key(errors: Iterable[FieldError], key: str) -> Errors:
    return via(errors, f"[{key}]")


def render(errors: Iterable[FieldError]) -> str:
    """The text Knative prints for these errors (``FieldError.Error()``)."""
    merged: dict[tuple[str, str], list[str]] = {}
    for e in errors:
        paths = merged.setdefault((e.message, e.details), [])
        paths += [p for p in e.paths if p not in paths]
    lines = []
    for (message, details), paths in sorted(merged.items()):
        line = f"{message}: {', '.join(sorted(paths))}"
        lines.append(f"{line}\n{details}" if details else line)
    return "\n".join(lines)


# -- Knative's helpers -----------------------------------------------------------------------


def missing(*paths: str) -> FieldError:
    return FieldError("missing field(s)", paths)


def disallowed(*paths: str) -> FieldError:
    return FieldError("must not set the field(s)", paths)


def invalid_value(value: object, path: str, *details: str) -> FieldError:
    return FieldError(f"invalid value: {go_value(value)}", (path,), ", ".join(details))


def invalid_key_name(key: str, path: str, *details: str) -> FieldError:
    return FieldError(f"invalid key name {go_quote(key)}", (path,), ", ".join(details))


def out_of_bounds(value: object, lower: object, upper: object, path: str) -> FieldError:
    return FieldError(
        f"expected {go_value(lower)} <= {go_value(value)} <= {go_value(upper)}", (path,)
    )


def multiple_one_of(*paths: str) -> FieldError:
    return FieldError("expected exactly one, got both", paths)


def missing_one_of(*paths: str) -> FieldError:
    return FieldError("expected exactly one, got neither", paths)


def go_value(value: object) -> str:
    """A value as Go's ``%v`` prints it (strings bare, floats without a trailing .0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def go_quote(text: str) -> str:
    """Go's ``%q`` for the plain strings these messages quote."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_list(items: Iterable[str]) -> str:
    """A ``[]string`` as Go's ``%v`` prints it: ``[a b]``."""
    return "[" + " ".join(items) + "]"
