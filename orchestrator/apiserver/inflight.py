"""Requests in flight, capped as Kubernetes' ``--max-requests-inflight`` caps them.

Two counters, as in Kubernetes before priority and fairness: reads (400) and
writes (200). A request over its cap is answered at once with 429 ``Too many
requests, please try again later.`` and ``Retry-After: 1`` (client-go and
the Python client wait and retry). Exempt, as in Kubernetes: long-running
requests (watches, ``log?follow``, exec, attach, port-forward, proxy: they
hold a slot for minutes by design), health probes, and ``system:masters``
(the cluster admin can always get in to repair things).

The check runs after authentication (``admit``, one call in ``app.dispatch``)
and the slot is released when the handler returns (``release``, in
``app.create_app``'s endpoint): the slot lives in the request's ASGI scope,
so nothing is kept per request elsewhere.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.apiserver.identity import UserInfo

_SCOPE_KEY = "paas.inflight"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LONG_RUNNING_SUBRESOURCES = ("/exec", "/attach", "/portforward", "/proxy")
_HEALTH = ("/healthz", "/livez", "/readyz")


@dataclass(frozen=True)
class InFlightSettings:
    max_reads: int = 400  # Kubernetes' --max-requests-inflight default
    max_writes: int = 200  # Kubernetes' --max-mutating-requests-inflight default


def is_long_running(path: str, query: bytes) -> bool:
    """Watches, followed logs, exec/attach/port-forward and proxy (Kubernetes' list)."""
    if query and (b"watch=" in query or b"follow=" in query):
        params = {k: v for k, _, v in (p.partition(b"=") for p in query.split(b"&")) if k in _FLAGS}
        if params.get(b"watch", b"false") not in _FALSE:
            return True
        if path.endswith("/log") and params.get(b"follow", b"false") not in _FALSE:
            return True
    return any(sub in path for sub in _LONG_RUNNING_SUBRESOURCES)


_FLAGS = frozenset({b"watch", b"follow"})
_FALSE = frozenset({b"0", b"f", b"F", b"false", b"False", b"FALSE"})


class InFlight:
    """The two counters; ``admit`` takes a slot or raises 429, ``release`` gives it back."""

    def __init__(self, settings: InFlightSettings | None = None) -> None:
        self.settings = settings or InFlightSettings()
        self.reads = 0
        self.writes = 0

    def admit(self, scope: MutableMapping[str, Any], user: UserInfo | None) -> None:
        path: str = scope["path"]
        if user is not None and user.is_master:
            return
        if path.startswith(_HEALTH) or is_long_running(path, scope.get("query_string", b"")):
            return
        if scope["method"] in _MUTATING:
            if self.writes >= self.settings.max_writes:
                raise _too_many()
            self.writes += 1
            scope[_SCOPE_KEY] = "writes"
        else:
            if self.reads >= self.settings.max_reads:
                raise _too_many()
            self.reads += 1
            scope[_SCOPE_KEY] = "reads"

    def release(self, scope: MutableMapping[str, Any]) -> None:
        kind = scope.pop(_SCOPE_KEY, None)
        if kind == "writes":
            self.writes -= 1
        elif kind == "reads":
            self.reads -= 1


def _too_many() -> errors.TooManyRequests:
    return errors.TooManyRequests(
        "Too many requests, please try again later.", details={"retryAfterSeconds": 1}
    )
