"""Informers keep a cache equal to the server's, through watches and restarts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.wait import eventually

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.informer import Handler, Informer, InformerSettings
from orchestrator.client.rest import APIClient

CONFIGMAPS = BUILTIN_TYPES.by_group_kind("", "ConfigMap")


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": name}}


async def test_cache_follows_creates_updates_and_deletes(api: RunningAPI) -> None:
    assert CONFIGMAPS is not None
    seen: list[tuple[str, str]] = []
    async with APIClient(api.client_config()) as client:
        await client.create(CONFIGMAPS, cm("before"), "default")
        informer = Informer(client, CONFIGMAPS, namespace="default")
        informer.add_index("tier", lambda o: [o["metadata"].get("labels", {}).get("tier", "")])
        informer.add_handler(
            Handler(
                on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                on_update=lambda a, b: seen.append(("update", b["metadata"]["name"])),
                on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
            )
        )
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.wait_synced(), 10)
            assert informer.get("default/before") is not None
            await client.create(CONFIGMAPS, cm("web", tier="front"), "default")
            await client.patch(CONFIGMAPS, "before", {"data": {"k": "changed"}}, "default")
            await client.delete(CONFIGMAPS, "before", "default")
            await eventually(lambda: ("delete", "before") in seen)
            assert seen == [
                ("add", "before"),
                ("add", "web"),
                ("update", "before"),
                ("delete", "before"),
            ]
            assert [o["metadata"]["name"] for o in informer.by_index("tier", "front")] == ["web"]
            assert informer.get("default/before") is None
        finally:
            task.cancel()


async def test_relist_after_an_outage_reports_what_vanished(sqlite_api: RunningAPI) -> None:
    """Changes made while the informer was cut off arrive after it reconnects."""
    assert CONFIGMAPS is not None
    deleted: list[str] = []
    async with APIClient(sqlite_api.client_config()) as client:
        await client.create(CONFIGMAPS, cm("a"), "default")
        informer = Informer(
            client, CONFIGMAPS, namespace="default", settings=InformerSettings(watch_timeout=1)
        )
        informer.add_handler(Handler(on_delete=lambda o: deleted.append(o["metadata"]["name"])))
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.wait_synced(), 10)
            await client.delete(CONFIGMAPS, "a", "default")
            await client.create(CONFIGMAPS, cm("b"), "default")
            # The watch times out every second and resumes from its last revision.
            await eventually(lambda: informer.get("default/b") is not None, 15)
            assert deleted == ["a"]
        finally:
            task.cancel()


CRONTABS = ResourceType(
    group="stable.example.com", version="v1", kind="CronTab", plural="crontabs", namespaced=True
)
QUICK = InformerSettings(watch_timeout=1, unserved_retry_base=0.05, unserved_retry_cap=0.2)


def crontab(name: str) -> dict[str, Any]:
    return {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": name}}


def logged(caplog: pytest.LogCaptureFixture, message: str) -> bool:
    return any(r.getMessage() == message for r in caplog.records)


async def test_an_informer_on_a_kind_not_served_yet_waits_then_syncs(
    api: RunningAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator.client.informer")
    async with APIClient(api.client_config()) as client:
        informer = Informer(client, CRONTABS, namespace="default", settings=QUICK)
        task = asyncio.create_task(informer.run())
        try:
            await eventually(
                lambda: logged(
                    caplog, "waiting for crontabs.stable.example.com to be served (not served yet)"
                )
            )
            assert not task.done()  # waiting, not crashed
            assert not informer.synced.is_set()
            api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
            await client.create(CRONTABS, crontab("nightly"), "default")
            await asyncio.wait_for(informer.wait_synced(), 10)
            await eventually(lambda: informer.get("default/nightly") is not None)
            await client.create(CRONTABS, crontab("hourly"), "default")
            await eventually(lambda: informer.get("default/hourly") is not None)
            assert [r.getMessage() for r in caplog.records].count(
                "waiting for crontabs.stable.example.com to be served (not served yet)"
            ) == 1
        finally:
            task.cancel()


async def test_an_informer_whose_kind_goes_keeps_its_cache_and_resumes(
    sqlite_api: RunningAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """As Kubernetes' reflector: retry with backoff, keep the store, relist once served."""
    caplog.set_level(logging.INFO, logger="orchestrator.client.informer")
    sqlite_api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
    async with APIClient(sqlite_api.client_config()) as client:
        await client.create(CRONTABS, crontab("nightly"), "default")
        informer = Informer(client, CRONTABS, namespace="default", settings=QUICK)
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.wait_synced(), 10)
            sqlite_api.serve_types(BUILTIN_TYPES)  # the next watch (within 1 s) answers 404
            await eventually(
                lambda: logged(
                    caplog,
                    "waiting for crontabs.stable.example.com to be served (no longer served)",
                )
            )
            assert informer.get("default/nightly") is not None
            sqlite_api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
            await client.delete(CRONTABS, "nightly", "default")
            await eventually(lambda: informer.get("default/nightly") is None)
            assert logged(caplog, "crontabs.stable.example.com is served: informer synced")
        finally:
            task.cancel()
