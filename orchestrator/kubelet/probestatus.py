"""Probe results written to the pod's status between passes of the pod worker.

A probe result that flips (readiness mostly) queues the pod for a pass, and
that pass writes the status. But a pass waits for a free worker, and while
many pods start every worker may be busy for seconds: with 50 pods created
at once on Docker, 7.7 s (p50) went by between a readiness probe passing and
the pass that reported it (bench.pods). So, as the kubelet's status manager
writes readiness apart from its pod workers, ``ProbeStatus`` writes the new
results at once: the status is computed as a pass computes it
(``containerstatus.pod_status``), from what the pod's last pass saw of its
sandbox and containers, with the probe results of now.

The write carries the resourceVersion of the pod it was computed from, so
it never overwrites a status it has not seen. The cache is often a moment
behind (a probe passes just as the pass that reported the pod Running has
written), so after a 409 the pod is read from the API and the write tried
again, a few times; after that, or with the API down, the pass queued beside
it writes the status. A pod being deleted, or finished, is left to its pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.containerstatus import TERMINAL, Observed, pod_status

log = logging.getLogger(__name__)
ProbeResults = tuple[dict[str, bool], dict[str, bool]]  # (ready, started) by container ID
TRIES = 3  # writes of one flip: the cached pod, then the pod read again after each 409
PODS = BUILTIN_TYPES.require("", "Pod")


class ProbeStatus:
    """Writes a pod's status when one of its probe results flips, from its last pass."""

    def __init__(
        self,
        client: APIClient,
        lookup: Callable[[str], Obj | None],
        results: Callable[[str], ProbeResults],
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.lookup = lookup  # the pod by uid, from the node agent's cache
        self.results = results  # the pod's probe results now (``Probers.results``)
        self.clock = clock
        self._observed: dict[str, Observed] = {}  # uid -> what its last running pass saw
        self._writes: set[asyncio.Task[None]] = set()

    def observed(self, uid: str, seen: Observed | None) -> None:
        """What a pass saw of a running pod (None: the pod does not run, nothing to write)."""
        if seen is None:
            self._observed.pop(uid, None)
        else:
            self._observed[uid] = seen

    def changed(self, uid: str) -> None:
        """A probe result of the pod flipped: write its status now, in the background."""
        task = asyncio.get_running_loop().create_task(self._write(uid))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        """Wait for the writes in flight."""
        await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def close(self) -> None:
        for task in self._writes:
            task.cancel()
        await asyncio.gather(*self._writes, return_exceptions=True)

    async def _write(self, uid: str) -> None:
        pod = self.lookup(uid)
        for _ in range(TRIES):
            seen = self._observed.get(uid)
            if pod is None or seen is None or not _running(pod, uid):
                return
            ready, started = self.results(uid)
            status = pod_status(pod, replace(seen, ready=ready, started=started), self.clock())
            if status == pod.get("status"):
                return
            meta = metadata_of(pod)
            try:
                await self.client.replace(
                    PODS, {**pod, "status": status}, meta["namespace"], subresource="status"
                )
                return
            except errors.Conflict:
                # The cache is behind (the pass that reported the pod Running wrote a moment
                # ago, as a probe passes): once more against the pod as the API has it now.
                try:
                    pod = await self.client.get(PODS, meta["name"], meta["namespace"])
                except errors.APIError as exc:
                    log.debug("pod %s: its probe results are left to its next pass: %s", uid, exc)
                    return
            except errors.APIError as exc:
                log.debug("pod %s: its probe results are left to its next pass: %s", uid, exc)
                return


def _running(pod: Obj, uid: str) -> bool:
    """Whether this is the pod (the same uid) and still running: not deleted, not finished."""
    meta = metadata_of(pod)
    if meta.get("uid") != uid or meta.get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in TERMINAL
