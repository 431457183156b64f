"""Default policy at every start, and the ClusterRole aggregation loop.

``reconcile`` writes Kubernetes' default roles and bindings (``policy.py``)
when the API server starts: a missing one is created; one whose
``rbac.authorization.kubernetes.io/autoupdate`` annotation is not
``"false"`` gets the default rules (or aggregation rule) and the default
subjects added back, keeping what an administrator added. Several API
servers doing this at once on one etcd converge: writes are
compare-and-swap and a conflict is read again.

``Aggregator`` keeps each ClusterRole that has an ``aggregationRule``
holding the union of the rules of every ClusterRole its selectors match
(Kubernetes' clusterrole-aggregation controller), overwriting hand edits.
It follows ClusterRoles through the watch hub and recomputes after each
change; a role aggregated from another aggregated role settles once the
inner one was written (view into edit into admin).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceTypes
from orchestrator.api.selectors import SelectorError, selector_from_label_selector_object
from orchestrator.apiserver.authz.policy import AUTOUPDATE, GROUP, defaults
from orchestrator.apiserver.registry import Registry, WriteOptions
from orchestrator.apiserver.watchcache import Change, WatchHub

log = logging.getLogger(__name__)

CLUSTER_ROLES_PREFIX = f"/registry/{GROUP}/clusterroles/"


def _merged(current: Obj, wanted: Obj) -> Obj | None:
    """``current`` with the defaults put back; None when it already has them all."""
    meta = current.get("metadata") or {}
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = copy.deepcopy(current)
    out_meta = out.setdefault("metadata", {})
    out_meta["labels"] = {**(out_meta.get("labels") or {}), **wanted["metadata"]["labels"]}
    out_meta["annotations"] = {
        **(out_meta.get("annotations") or {}),
        **wanted["metadata"]["annotations"],
    }
    if "aggregationRule" in wanted:
        out["aggregationRule"] = wanted["aggregationRule"]  # its rules are the loop's
    elif "rules" in wanted:
        rules = list(out.get("rules") or [])
        rules += [r for r in wanted["rules"] if r not in rules]
        out["rules"] = rules
    if "subjects" in wanted:
        subjects = list(out.get("subjects") or [])
        subjects += [s for s in wanted["subjects"] if s not in subjects]
        out["subjects"] = subjects
    return None if out == current else out


async def reconcile(registry: Registry, types: ResourceTypes) -> None:
    """Create or repair every default role and binding."""
    opts = WriteOptions()
    for wanted in defaults():
        rt = types.require(GROUP, wanted["kind"])
        meta = wanted["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        for _attempt in range(5):
            try:
                current = await registry.get(rt, namespace, name)
            except errors.NotFound:
                try:
                    await registry.create(rt, namespace, copy.deepcopy(wanted), opts)
                except errors.AlreadyExists:
                    continue  # another API server was first: repair its copy instead
                break
            merged = _merged(current, wanted)
            if merged is None:
                break
            try:
                await registry.update(rt, namespace, name, merged, opts)
            except errors.Conflict:
                continue
            break


def aggregate(role: Obj, roles: dict[str, Obj]) -> list[dict[str, Any]] | None:
    """The rules ``role`` should hold by its aggregation rule (None: it has none)."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    name = role["metadata"]["name"]
    rules: list[dict[str, Any]] = []
    for selector in rule.get("clusterRoleSelectors") or []:
        try:
            matcher = selector_from_label_selector_object(selector)
        except SelectorError:
            continue
        for other_name in sorted(roles):
            if other_name == name:
                continue
            other = roles[other_name]
            if matcher.matches((other.get("metadata") or {}).get("labels")):
                rules += [r for r in other.get("rules") or [] if r not in rules]
    return rules


class Aggregator:
    def __init__(self, registry: Registry, hub: WatchHub, types: ResourceTypes) -> None:
        self.registry = registry
        self.hub = hub
        self.rt = types.require(GROUP, "ClusterRole")
        self.roles: dict[str, Obj] = {}

    async def sync(self) -> int:
        items, revision, _ = await self.registry.list(self.rt, "")
        self.roles = {item["metadata"]["name"]: item for item in items}
        await self.settle()
        return revision

    async def settle(self) -> None:
        """Write every aggregated role whose rules are not the union they should be.

        Passes repeat until one writes nothing, so roles aggregated from aggregated roles
        (admin from edit from view) are whole when it returns (a cycle stops after a few).
        """
        for _ in range(8):
            wrote = False
            for name, role in list(self.roles.items()):
                wanted = aggregate(role, self.roles)
                if wanted is None or wanted == (role.get("rules") or []):
                    continue
                updated = {**role, "rules": wanted}
                try:
                    result = await self.registry.update(self.rt, "", name, updated, WriteOptions())
                except (errors.Conflict, errors.NotFound):
                    continue  # the newer version arrives through the watch and is settled then
                self.roles[name] = result.obj
                wrote = True
            if not wrote:
                return

    async def run(self, revision: int = -1) -> None:
        """Follow ClusterRoles until cancelled (from ``revision`` if ``sync`` was called)."""
        if revision < 0:
            revision = await self.sync()
        while True:
            try:
                async for change in self.hub.changes(CLUSTER_ROLES_PREFIX, revision):
                    if not isinstance(change, Change):
                        continue
                    revision = change.revision
                    name = change.key.rsplit("/", 1)[-1]
                    if change.type == "DELETE":
                        self.roles.pop(name, None)
                    else:
                        self.roles[name] = change.obj
                    await self.settle()
            except asyncio.CancelledError:
                raise
            except Exception:  # dropped, compacted or the store away: read everything again
                log.info("ClusterRole aggregation re-reads after a broken watch", exc_info=True)
                await asyncio.sleep(0.5)
                try:
                    revision = await self.sync()
                except Exception:
                    log.warning("cannot read ClusterRoles; retrying", exc_info=True)
