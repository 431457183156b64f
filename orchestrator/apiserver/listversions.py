"""What a list's or a watch's ``resourceVersion`` asks for, as Kubernetes 1.33 reads it.

The sources are the apiserver's storage layer (``storage.ValidateListOptions``,
the watch cache's ``waitUntilFreshAndBlock``, the etcd3 store's ``GetList``):

- The value is an unsigned integer; anything else is 400 ``invalid resource
  version: resourceVersion: Invalid value: "x": strconv.ParseUint: ...``, on
  a list and on a watch alike.
- A list with ``""`` reads the latest state, ``"0"`` any state (the latest
  here). ``N`` with ``resourceVersionMatch=NotOlderThan``, or no match and
  no limit, reads a state at least as new as N; ``N`` with ``Exact``, or no
  match and a ``limit`` (the legacy paged form), reads the state as of N,
  410 once N is compacted.
- An N the store has not reached yet: the watch cache waits up to 3 s for
  it, then answers 504 ``Timeout`` "Too large resource version: N, current:
  M" with cause ``ResourceVersionTooLarge`` and ``retryAfterSeconds`` 1.
  Both list forms get that answer here.
- A watch from an N still to come is accepted and sends the changes after N
  when they happen (the cache waits only for ``sendInitialEvents``, which
  this server does not serve): nothing to do but not fail.
- ``continue`` with a ``resourceVersion`` other than ``""`` or ``"0"`` is 400.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.store.base import Store

_MAX_UINT64 = 2**64 - 1
_POLL = 0.05  # seconds between looks at the store's revision while waiting


@dataclass(frozen=True)
class ListVersion:
    """How to serve one list: at ``revision`` (0 = latest), after the store reaches ``wait_for``."""

    revision: int = 0
    wait_for: int = 0


def parse(value: str) -> int:
    """The revision a ``resourceVersion`` parameter names (0 for "" and "0")."""
    if value == "":
        return 0
    if not value.isascii() or not value.isdigit():
        raise _invalid(value, "invalid syntax")
    number = int(value)
    if number > _MAX_UINT64:
        raise _invalid(value, "value out of range")
    return number


def _invalid(value: str, why: str) -> errors.BadRequest:
    return errors.BadRequest(
        f'invalid resource version: resourceVersion: Invalid value: "{value}": '
        f'strconv.ParseUint: parsing "{value}": {why}'
    )


def plan_list(resource_version: str, match: str, limit: int, continue_token: str) -> ListVersion:
    """What a list's parameters ask for (see the module docstring)."""
    wanted = parse(resource_version)
    if match:
        _check_match(match, resource_version, continue_token)
    if continue_token:
        if wanted:
            raise errors.BadRequest(
                "specifying resource version is not allowed when using continue"
            )
        return ListVersion()
    if not wanted:
        return ListVersion()
    exact = match == "Exact" or (match == "" and limit > 0)
    return ListVersion(revision=wanted if exact else 0, wait_for=wanted)


def _check_match(match: str, resource_version: str, continue_token: str) -> None:
    """ListOptions validation of ``resourceVersionMatch``: 422, as Kubernetes answers it."""
    field, why = "resourceVersionMatch", ""
    if not resource_version:
        why = "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    elif continue_token:
        why = "Forbidden: resourceVersionMatch is forbidden when continue is provided"
    elif match not in ("Exact", "NotOlderThan"):
        why = f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
    elif match == "Exact" and resource_version == "0":
        why = 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
    if why:
        raise errors.Invalid(
            f'ListOptions.meta.k8s.io "" is invalid: {field}: {why}',
            details={
                "group": "meta.k8s.io",
                "kind": "ListOptions",
                "causes": [{"field": field, "reason": "FieldValueInvalid", "message": why}],
            },
        )


async def wait_for_revision(store: Store, wanted: int, timeout: float) -> None:
    """Return once the store has reached ``wanted``; 504 "Too large resource version" after
    ``timeout`` seconds, as Kubernetes' watch cache answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = await store.current_revision()
        if current >= wanted:
            return
        if loop.time() >= deadline:
            raise too_large(wanted, current)
        await asyncio.sleep(min(_POLL, max(deadline - loop.time(), 0)))


def too_large(wanted: int, current: int) -> errors.Timeout:
    return errors.Timeout(
        f"Timeout: Too large resource version: {wanted}, current: {current}",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )
