"""``paas apps branches APP``, run as a user runs it against a real API server: the App's
deployed branches with their URL, build and state, where a preview scaled to zero reads as
idle and a failed deploy says why."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from support.apiserver import RunningAPI

from builder.kinds import APPS
from orchestrator.client.rest import APIClient
from paas.up.definitions import install_definitions, platform_definitions

BRANCHES = [
    {
        "name": "main",
        "url": "http://shop.localhost:8080/",
        "build": "shop-main-1111111",
        "phase": "Live",
        "instances": 2,
    },
    {
        "name": "feature-x",
        "url": "http://feature-x--shop.localhost:8080/",
        "build": "shop-feature-x-2222222",
        "phase": "Live",
        "instances": 0,
    },
    {
        "name": "broken",
        "url": "http://broken--shop.localhost:8080/",
        "build": "shop-broken-3333333",
        "phase": "Failed",
        "instances": 1,
        "lastFailure": "shop-broken-4444444: the new version keeps crashing (exit code 3)",
    },
]


async def app_with_branches(api: RunningAPI) -> None:
    async with APIClient(api.client_config()) as client:
        await install_definitions(client, platform_definitions())
        body = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "shop"}}
        await client.create(APPS, body, "default")
        status = {"status": {"branches": BRANCHES, "branchCount": 3}}
        await client.patch(APPS, "shop", status, "default", subresource="status")


def paas(api: RunningAPI, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(api.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def test_branches_show_an_idle_preview_as_idle_and_a_failure_with_its_reason(
    sqlite_api: RunningAPI,
) -> None:
    await app_with_branches(sqlite_api)
    done = await asyncio.to_thread(paas, sqlite_api, "apps", "branches", "shop")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["BRANCH", "URL", "BUILD", "STATE"]
    rows = {line.split()[0]: line for line in lines[1:4]}
    assert rows["main"].endswith("Live (2 instances)")
    assert rows["feature-x"].endswith("Idle (scaled to zero; the next request starts it)")
    assert rows["broken"].endswith("Failed")
    assert lines[4] == (
        "broken: last failure: shop-broken-4444444: the new version keeps crashing (exit code 3)"
    )


async def test_an_app_with_nothing_deployed_says_so(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, platform_definitions())
        body = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "empty"}}
        await client.create(APPS, body, "default")
    done = await asyncio.to_thread(paas, sqlite_api, "apps", "branches", "empty")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "No branch of empty is deployed yet." in done.stderr
