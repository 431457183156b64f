"""The router as a Gateway API controller: its class and Gateway, the HTTPRoute table, statuses.

``GatewayController`` shares the router's informers (GatewayClass, Gateway,
HTTPRoute; Services for ``ResolvedRefs``). Every event of those kinds
rebuilds the view (``router.httproutes.build_gateway``, pure) and calls
``on_table`` with the new HTTPRoute table, which the router swaps into its
route table; then it wakes the status loop.

At start (``ensure``), the router creates what it implements unless it
exists already (an edited one is left alone, as the IngressClass is):
GatewayClass ``paas`` with our ``controllerName`` and Gateway
``paas-system/paas`` with one HTTP listener on the router's port that
admits routes from all namespaces. The router creates them rather than
``paas up`` because only the router knows its port once bound (port 0),
and a router started alone (``paas router``) then serves HTTPRoutes too;
``paas up`` only applies the CRDs.

``write_statuses`` keeps each object's status as the view says, touching
only what is ours: GatewayClass ``Accepted``; the Gateway's ``Accepted``,
``Programmed``, its listeners (with ``attachedRoutes``) and ``addresses``
(the router's); in each HTTPRoute the ``status.parents`` entries whose
``controllerName`` is ours (``Accepted`` and ``ResolvedRefs``), others'
entries kept and ours for parents no longer referenced pruned. A
condition keeps its ``lastTransitionTime`` while its status is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orchestrator.api import errors
from orchestrator.api.copying import copy_json
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.api.timestamps import rfc3339
from orchestrator.client.informer import Handler
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from router.httproutes import GROUP, GatewayTable, GatewayView, build_gateway

log = logging.getLogger(__name__)

GATEWAY_CLASSES = ResourceType(GROUP, "v1", "GatewayClass", "gatewayclasses", namespaced=False)
GATEWAYS = ResourceType(GROUP, "v1", "Gateway", "gateways", namespaced=True)
HTTPROUTES = ResourceType(GROUP, "v1", "HTTPRoute", "httproutes", namespaced=True)
NAMESPACES = BUILTIN_TYPES.require("", "Namespace")
SERVICES = BUILTIN_TYPES.require("", "Service")


def gateway_class(name: str, controller: str) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "paas"}},
        "spec": {"controllerName": controller, "description": "paas router (HTTP)"},
    }


def gateway(namespace: str, name: str, class_name: str, port: int) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "paas"},
        },
        "spec": {
            "gatewayClassName": class_name,
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": port,
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }
            ],
        },
    }


def stamped(current: Any, wanted: list[dict[str, Any]], stamp: str) -> list[dict[str, Any]]:
    """``wanted`` conditions with ``lastTransitionTime``: kept from ``current`` if unchanged."""
    before = {c.get("type"): c for c in current or () if isinstance(c, dict)}
    out = []
    for condition in wanted:
        old = before.get(condition["type"])
        since = stamp
        if old is not None and old.get("status") == condition["status"]:
            since = old.get("lastTransitionTime") or stamp
        out.append({**condition, "lastTransitionTime": since})
    return out


class GatewayController:
    def __init__(
        self,
        client: APIClient,
        informers: SharedInformers,
        controller: str,
        on_table: Callable[[GatewayTable | None], None],
    ) -> None:
        self.client = client
        self.controller = controller
        self.on_table = on_table
        self.classes = informers.informer(GATEWAY_CLASSES)
        self.gateways = informers.informer(GATEWAYS)
        self.routes = informers.informer(HTTPROUTES)
        self.services = informers.informer(SERVICES)
        self.view = GatewayView(None)
        self.address = ""
        self.port = 0
        self._wanted = asyncio.Event()
        rebuild = Handler(
            on_add=lambda _o: self.rebuild(),
            on_update=lambda _o, _n: self.rebuild(),
            on_delete=lambda _o: self.rebuild(),
        )
        for informer in (self.classes, self.gateways, self.routes):
            informer.add_handler(rebuild)
        # A Service appearing or going changes only ResolvedRefs, not the table.
        statuses = Handler(
            on_add=lambda _o: self._refresh_status(),
            on_delete=lambda _o: self._refresh_status(),
        )
        self.services.add_handler(statuses)

    def _build(self) -> GatewayView:
        return build_gateway(
            self.classes.list(),
            self.gateways.list(),
            self.routes.list(),
            self.controller,
            lambda ns, name: self.services.get_by_name(ns, name) is not None,
        )

    def rebuild(self) -> None:
        self.view = self._build()
        self.on_table(self.view.table)
        self._wanted.set()

    def _refresh_status(self) -> None:
        if self.view.routes:
            self.view = self._build()
            self._wanted.set()

    async def ensure(self, class_name: str, namespace: str, name: str, port: int) -> None:
        """Create our GatewayClass and Gateway (and its namespace) unless they exist."""
        if not class_name:
            return
        with contextlib.suppress(errors.AlreadyExists):
            await self.client.create(GATEWAY_CLASSES, gateway_class(class_name, self.controller))
            log.info("created GatewayClass %s", class_name)
        if not name:
            return
        with contextlib.suppress(errors.AlreadyExists):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            await self.client.create(NAMESPACES, body)
        with contextlib.suppress(errors.AlreadyExists):
            await self.client.create(
                GATEWAYS, gateway(namespace, name, class_name, port), namespace
            )
            log.info("created Gateway %s/%s (HTTP on port %d)", namespace, name, port)

    async def write_statuses(self) -> None:
        """Keep the statuses of our classes, Gateways and HTTPRoutes (woken by rebuilds)."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            view = self.view
            stamp = rfc3339(datetime.now(UTC))
            for name, conditions in view.classes.items():
                obj = self.classes.get_by_name("", name)
                if obj is not None:
                    status = dict(obj.get("status") or {})
                    status["conditions"] = stamped(status.get("conditions"), conditions, stamp)
                    await self._write(GATEWAY_CLASSES, obj, status)
            for (namespace, name), wanted in view.gateways.items():
                obj = self.gateways.get_by_name(namespace, name)
                if obj is not None:
                    await self._write(GATEWAYS, obj, self._gateway_status(obj, wanted, stamp))
            for (namespace, name), parents in view.routes.items():
                obj = self.routes.get_by_name(namespace, name)
                if obj is not None:
                    await self._write(HTTPROUTES, obj, self._route_status(obj, parents, stamp))
            for obj in self.routes.list():  # routes that left our Gateways: drop our entries
                meta = obj["metadata"]
                if (meta.get("namespace", ""), meta["name"]) not in view.routes:
                    await self._write(HTTPROUTES, obj, self._route_status(obj, [], stamp))

    def _gateway_status(self, obj: Obj, wanted: dict[str, Any], stamp: str) -> dict[str, Any]:
        current = obj.get("status") or {}
        listeners_before = {
            item.get("name"): item.get("conditions") for item in current.get("listeners") or ()
        }
        return {
            **current,
            "addresses": [{"type": "IPAddress", "value": self.address}] if self.address else [],
            "conditions": stamped(current.get("conditions"), wanted["conditions"], stamp),
            "listeners": [
                {
                    **item,
                    "conditions": stamped(
                        listeners_before.get(item["name"]), item["conditions"], stamp
                    ),
                }
                for item in wanted["listeners"]
            ],
        }

    def _route_status(self, obj: Obj, parents: list[dict[str, Any]], stamp: str) -> dict[str, Any]:
        current = obj.get("status") or {}
        before = current.get("parents") or []
        others = [p for p in before if p.get("controllerName") != self.controller]
        ours = {
            _ref_key(p.get("parentRef")): p
            for p in before
            if p.get("controllerName") == self.controller
        }
        mine = []
        for parent in parents:
            old = ours.get(_ref_key(parent["parentRef"]))
            conditions = stamped((old or {}).get("conditions"), parent["conditions"], stamp)
            mine.append({**parent, "conditions": conditions})
        return {**current, "parents": [*others, *mine]}

    async def _write(self, rt: ResourceType, obj: Obj, status: dict[str, Any]) -> None:
        if (obj.get("status") or {}) == status:
            return
        body = copy_json(obj)
        body["status"] = status
        meta = obj["metadata"]
        try:
            await self.client.replace(rt, body, meta.get("namespace", ""), subresource="status")
        except errors.NotFound:
            pass
        except errors.Conflict:
            self._wanted.set()  # the newer version comes as an event
        except errors.APIError as exc:
            log.warning("cannot write the status of %s %s: %s", rt.kind, meta.get("name"), exc)


def _ref_key(ref: Any) -> tuple[Any, ...]:
    ref = ref if isinstance(ref, dict) else {}
    return (
        ref.get("group", GROUP),
        ref.get("kind", "Gateway"),
        ref.get("namespace"),
        ref.get("name"),
        ref.get("sectionName"),
        ref.get("port"),
    )
