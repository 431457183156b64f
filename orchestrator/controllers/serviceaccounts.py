"""Every namespace gets ServiceAccount ``default`` and ConfigMap ``kube-root-ca.crt``.

Kubernetes' serviceaccount controller and root-ca-cert-publisher in one
loop keyed by namespace: Namespace events, and events of the two objects
(watched by name only, with field selectors, so the cache holds two small
objects a namespace), enqueue the namespace; a pass creates ``default`` if
it is missing and creates or corrects ``kube-root-ca.crt`` (key ``ca.crt`` =
the cluster CA, from ``--root-ca-file`` or else the CA of the
controller-manager's kubeconfig). Deleting either brings it back.
A terminating namespace is left alone (its content is being removed).

The API server's ServiceAccount admission may have made both already for a
pod created first; AlreadyExists is then success.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import process_queue

log = logging.getLogger(__name__)

NAMESPACES = BUILTIN_TYPES.require("", "Namespace")
ACCOUNTS = BUILTIN_TYPES.require("", "ServiceAccount")
CONFIG_MAPS = BUILTIN_TYPES.require("", "ConfigMap")
DEFAULT_ACCOUNT = "default"
ROOT_CA = "kube-root-ca.crt"


@dataclass(frozen=True)
class ServiceAccountsSettings:
    # PEM of the cluster CA published as kube-root-ca.crt (--root-ca-file); "" = the CA the
    # controller-manager's own kubeconfig trusts, which is the cluster's
    root_ca_pem: str = ""


class ServiceAccountsController:
    name = "serviceaccount"

    def __init__(self, ctx: ControllerContext, settings: ServiceAccountsSettings) -> None:
        self.ctx = ctx
        self.root_ca_pem = settings.root_ca_pem or (ctx.client.config.ca_data or b"").decode()
        self.queue = WorkQueue(ctx.backoff, name="serviceaccount")
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.accounts = ctx.informers.informer(
            ACCOUNTS, field_selector=f"metadata.name={DEFAULT_ACCOUNT}"
        )
        self.config_maps = ctx.informers.informer(
            CONFIG_MAPS, field_selector=f"metadata.name={ROOT_CA}"
        )
        self.namespaces.add_handler(
            Handler(on_add=self._own, on_update=lambda _old, new: self._own(new))
        )
        for informer in (self.accounts, self.config_maps):
            informer.add_handler(
                Handler(
                    on_add=self._of,
                    on_update=lambda _old, new: self._of(new),
                    on_delete=self._of,
                )
            )

    def _own(self, ns: Obj) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _of(self, obj: Obj) -> None:
        self.queue.add(obj["metadata"].get("namespace", ""))

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    async def reconcile(self, namespace: str) -> float | None:
        ns = self.namespaces.get(namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return None
        if (ns.get("status") or {}).get("phase") == "Terminating":
            return None
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._ensure_account(namespace))
            tg.create_task(self._ensure_root_ca(namespace))
        return None

    async def _ensure_account(self, namespace: str) -> None:
        if self.accounts.get_by_name(namespace, DEFAULT_ACCOUNT) is not None:
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_ACCOUNT}}
        await _create(self.ctx, ACCOUNTS, body, namespace)

    async def _ensure_root_ca(self, namespace: str) -> None:
        pem = self.root_ca_pem
        if not pem:
            return
        held = self.config_maps.get_by_name(namespace, ROOT_CA)
        if held is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": ROOT_CA},
                "data": {"ca.crt": pem},
            }
            await _create(self.ctx, CONFIG_MAPS, body, namespace)
            return
        if (held.get("data") or {}).get("ca.crt") == pem:
            return
        patch = {"data": {"ca.crt": pem}}
        await self.ctx.client.patch(CONFIG_MAPS, ROOT_CA, patch, namespace)


async def _create(ctx: ControllerContext, rt: ResourceType, body: Obj, namespace: str) -> None:
    try:
        await ctx.client.create(rt, body, namespace)
    except errors.AlreadyExists:
        pass  # made by admission or another pass; the informer will say so
    except errors.Forbidden:
        pass  # the namespace began terminating meanwhile
