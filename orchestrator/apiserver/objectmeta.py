"""Server-owned metadata: what the API server fills in, keeps, and computes.

Clients may send anything in ``metadata``; these functions decide what the
stored object carries: a uid and creationTimestamp set once, a name from
``generateName``, a generation that moves only when the desired state (the
object minus metadata and status) changes, and the deletion fields that only
the delete path may set.
"""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.String alphabet
IMMUTABLE_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)


def now_rfc3339(clock: datetime | None = None) -> str:
    return (clock or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    # One draw of 64 random bits for the five characters, not a system call per character
    # (27**5 is so far below 2**64 that the remainders are as good as uniform).
    n = secrets.randbits(64)
    suffix = []
    for _ in range(5):
        n, i = divmod(n, len(_SUFFIX_ALPHABET))
        suffix.append(_SUFFIX_ALPHABET[i])
    return prefix + "".join(suffix)


def new_uid() -> str:
    return str(uuid.uuid4())


def desired_state(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that is neither metadata nor status (spec, data, rules...)."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def wipe_system_fields(obj: dict[str, Any]) -> None:
    """Drop what the server sets on create, as sent by a client (Kubernetes' Wipe...Fields)."""
    meta = obj["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)


def fill_for_create(obj: dict[str, Any], *, has_generation: bool, now: str) -> None:
    meta = obj["metadata"]
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(key, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now
    if has_generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)


def carry_over(
    new: dict[str, Any], old: dict[str, Any], *, has_generation: bool, status_apart: bool = True
) -> None:
    """Keep the server-owned metadata of ``old`` on ``new``; bump generation on spec change.

    ``status_apart``: status is a subresource, so a status change is no spec change (a
    custom kind without the status subresource counts its status as desired state).
    """
    meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
    for key in IMMUTABLE_META:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if has_generation and (
        desired_state(new) != desired_state(old)
        or (not status_apart and new.get("status") != old.get("status"))
    ):
        meta["generation"] = int(old_meta.get("generation", 0)) + 1


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two versions differ at most in resourceVersion."""
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        if key != "metadata":
            if value != b[key]:
                return False
            continue
        other = b[key]
        if value.keys() - {"resourceVersion"} != other.keys() - {"resourceVersion"}:
            return False
        if any(v != other[k] for k, v in value.items() if k != "resourceVersion"):
            return False
    return True


def is_dns_safe(name: str) -> bool:
    return bool(name) and set(name) <= set(string.ascii_lowercase + string.digits + "-.")
