"""ServiceAccount tokens for pods' projected volumes: requested, cached, refreshed.

The kubelet's token manager (``pkg/kubelet/token/token_manager.go``): for each
``serviceAccountToken`` source of a pod's projected volumes, a TokenRequest
for the pod's account, bound to the pod (name and uid), with the source's
audience (default: the API server's) and ``expirationSeconds`` (default 3600).
A token is kept in memory and asked for again once it is older than 80 % of
the lifetime granted (``spec.expirationSeconds`` of the answer) or 24 hours, whichever
comes first; the pod worker's resync (seconds) is what notices. If a
refresh fails while the old token still lives, the old one stays in the file
and the next pass tries again; a pod with no token yet gets ``VolumeError``
(a FailedMount event, retried).

Tokens never touch the disk here; ``volumes.py`` writes them with the rest of
the volume (atomic swap of the ``..data`` link).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient, resource_path

ACCOUNTS = BUILTIN_TYPES.require("", "ServiceAccount")
DEFAULT_EXPIRATION = 3600
REFRESH_FRACTION = 0.8  # of the lifetime, as the kubelet
MAX_AGE = 24 * 3600.0  # refresh at least daily, however long the token lives


class TokenUnavailable(Exception):
    """No token for a source: the message says which and why."""


@dataclass(frozen=True)
class TokenSource:
    audience: str  # "" = the API server's own
    seconds: int

    @classmethod
    def of(cls, spec: Obj) -> TokenSource:
        seconds = spec.get("expirationSeconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            seconds = DEFAULT_EXPIRATION
        return cls(str(spec.get("audience") or ""), seconds)


@dataclass(frozen=True)
class HeldToken:
    token: str
    refresh_at: float  # clock time after which it is asked for again
    expires_at: float


def token_sources(pod: Obj) -> Iterator[tuple[str, TokenSource]]:
    """(volume name, source) of every ``serviceAccountToken`` projection of the pod."""
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        projected = volume.get("projected") if isinstance(volume, dict) else None
        if not isinstance(projected, dict):
            continue
        for source in projected.get("sources") or []:
            spec = source.get("serviceAccountToken") if isinstance(source, dict) else None
            if isinstance(spec, dict):
                yield str(volume.get("name") or ""), TokenSource.of(spec)


class PodTokens:
    def __init__(self, client: APIClient, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock
        self._held: dict[tuple[str, TokenSource], HeldToken] = {}

    async def prepare(self, pod: Obj) -> None:
        """Make sure every token the pod's volumes project is held and fresh."""
        uid = str(metadata_of(pod).get("uid") or "")
        now = self.clock()
        for volume, source in token_sources(pod):
            held = self._held.get((uid, source))
            if held is not None and now < held.refresh_at:
                continue
            try:
                self._held[(uid, source)] = await self._request(pod, source, now)
            except errors.APIError as exc:
                if held is not None and now < held.expires_at:
                    continue  # keep serving the old one; the next pass asks again
                raise TokenUnavailable(
                    f'volume "{volume}": failed to fetch token: {exc.message}'
                ) from exc

    def token(self, pod: Obj, spec: Obj) -> str | None:
        uid = str(metadata_of(pod).get("uid") or "")
        held = self._held.get((uid, TokenSource.of(spec)))
        return held.token if held is not None else None

    def forget(self, uid: str) -> None:
        for key in [k for k in self._held if k[0] == uid]:
            del self._held[key]

    async def _request(self, pod: Obj, source: TokenSource, now: float) -> HeldToken:
        meta = metadata_of(pod)
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        spec: dict[str, Any] = {
            "expirationSeconds": source.seconds,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": meta.get("name", ""),
                "uid": meta.get("uid", ""),
            },
        }
        if source.audience:
            spec["audiences"] = [source.audience]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        path = resource_path(ACCOUNTS, str(meta.get("namespace") or ""), account, "token")
        answer = (await self.client.request("POST", path, json_body=body)).json()
        status = answer.get("status") or {}
        token = str(status.get("token") or "")
        if not token:
            raise errors.InternalError("the TokenRequest answer holds no token")
        # The lifetime granted (the server may shorten it), counted on this node's clock from
        # now: a node whose clock is off still refreshes on time.
        granted = (answer.get("spec") or {}).get("expirationSeconds")
        lifetime = float(granted if isinstance(granted, int) else source.seconds)
        refresh_at = now + min(lifetime * REFRESH_FRACTION, MAX_AGE)
        return HeldToken(token, refresh_at, now + lifetime)
