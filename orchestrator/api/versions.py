"""Kubernetes' order of API versions: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others.

Discovery lists a group's versions in this order and its preferred version is
the first, whatever the storage version is (a pitfall clients meet: the
preferred version of a CRD is not necessarily the one it stores).
"""

from __future__ import annotations

import re

_KUBE_VERSION = re.compile(r"v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?")
_STABILITY = {None: 3, "beta": 2, "alpha": 1}


def version_key(name: str) -> tuple[int, int, int, int, str]:
    """A sort key putting the highest-priority version first."""
    match = _KUBE_VERSION.fullmatch(name)
    if match is None:
        return (1, 0, 0, 0, name)  # not a Kubernetes-like version: after them, alphabetical
    major, stability, minor = match.groups()
    return (0, -_STABILITY[stability], -int(major), -int(minor or 0), "")


def sort_versions(names: list[str]) -> list[str]:
    return sorted(names, key=version_key)
