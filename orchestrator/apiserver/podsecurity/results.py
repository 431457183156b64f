"""What a check answers, and the small readers every check shares.

A check reads a pod's metadata and spec as the plain dicts the API stores
(validation has already run, so the shapes are sane; readers still treat a
missing or odd field as unset) and answers None when the pod passes, or a
``Violation``: a short reason that is always shown and a detail naming the
containers, volumes or values at fault. The words are Kubernetes'
(``pod-security-admission/policy/check_*.go``), so messages read the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.apiserver.podsecurity.policy import Version

Obj = dict[str, Any]
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")  # Kubernetes' order


@dataclass(frozen=True)
class Violation:
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


CheckFn = Callable[[Obj, Obj, Version], Violation | None]


@dataclass(frozen=True)
class Check:
    id: str
    run: CheckFn
    since: int = 0  # first policy minor version the check applies to
    overlap: bool = False  # a baseline check a restricted one replaces at restricted


def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def containers(spec: Obj) -> Iterator[Obj]:
    """Every container of a pod: init, regular, then ephemeral."""
    for key in CONTAINER_LISTS:
        for container in as_list(spec.get(key)):
            if isinstance(container, dict):
                yield container


def name_of(container: Obj) -> str:
    return str(container.get("name") or "")


def security(container_or_spec: Obj) -> Obj:
    return as_dict(container_or_spec.get("securityContext"))


def join_quote(items: Iterable[str]) -> str:
    items = list(items)
    return '"' + '", "'.join(items) + '"' if items else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def containers_phrase(names: list[str]) -> str:
    """``container "a"`` or ``containers "a", "b"``."""
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def setters(pod: bool, names: list[str]) -> list[str]:
    """``["pod", 'container "a"']``: who set a forbidden value, joined by the caller."""
    out = ["pod"] if pod else []
    if names:
        out.append(containers_phrase(names))
    return out


def is_true(value: Any) -> bool:
    return value is True


def is_windows(spec: Obj) -> bool:
    return as_dict(spec.get("os")).get("name") == "windows"


def user_namespaced(spec: Obj) -> bool:
    """``hostUsers: false``: the pod runs in a user namespace of its own."""
    return spec.get("hostUsers") is False
