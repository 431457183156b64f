"""The serviceaccount controller: ``default`` and ``kube-root-ca.crt`` in every namespace."""

from __future__ import annotations

from typing import Any

from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.nodes import read, until

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.context import ControllerContext
from orchestrator.client.rest import APIClient
from orchestrator.controllers.serviceaccounts import (
    ServiceAccountsController,
    ServiceAccountsSettings,
)

NAMESPACES = BUILTIN_TYPES.require("", "Namespace")
ACCOUNTS = BUILTIN_TYPES.require("", "ServiceAccount")
CONFIG_MAPS = BUILTIN_TYPES.require("", "ConfigMap")


def controller(ctx: ControllerContext) -> ServiceAccountsController:
    return ServiceAccountsController(ctx, ServiceAccountsSettings())


async def both(client: APIClient, ns: str) -> tuple[Any, Any]:
    return (
        await read(client, ACCOUNTS, "default", ns),
        await read(client, CONFIG_MAPS, "kube-root-ca.crt", ns),
    )


async def test_every_namespace_gets_default_account_and_root_ca(sqlite_api: RunningAPI) -> None:
    ca = sqlite_api.ca.read_text()  # the controller publishes the CA its kubeconfig trusts
    async with controllers(sqlite_api, controller) as cp:
        await cp.client.create(NAMESPACES, {"metadata": {"name": "team-a"}})
        for ns in ("default", "kube-system", "team-a"):
            _sa, cm = await until(lambda ns=ns: both(cp.client, ns), lambda f: f[0] and f[1])
            assert cm["data"] == {"ca.crt": ca}


async def test_deleted_account_and_edited_root_ca_are_put_back(sqlite_api: RunningAPI) -> None:
    ca = sqlite_api.ca.read_text()
    async with controllers(sqlite_api, controller) as cp:
        await until(lambda: both(cp.client, "default"), lambda f: f[0] and f[1])
        await cp.client.delete(ACCOUNTS, "default", "default")
        await cp.client.patch(CONFIG_MAPS, "kube-root-ca.crt", {"data": {"ca.crt": "x"}}, "default")
        await until(
            lambda: both(cp.client, "default"),
            lambda f: f[0] and f[1] and f[1]["data"]["ca.crt"] == ca,
        )
