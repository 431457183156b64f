"""``paas config set/unset``: KEY=VALUE checks, and the Secret it keeps, on a real API server."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from support.apiserver import RunningAPI

from builder.kinds import APPS
from orchestrator.client.rest import APIClient
from paas.cli.config import SECRETS, parse_pairs
from paas.cli.kinds import UsageError
from paas.up.definitions import install_definitions, platform_definitions


@pytest.mark.parametrize(
    ("pairs", "parsed"),
    [
        (["A=1"], {"A": "1"}),
        (["A=1", "B_2=x=y"], {"A": "1", "B_2": "x=y"}),
        (["EMPTY="], {"EMPTY": ""}),
    ],
)
def test_pairs_are_split_at_the_first_equals(pairs: list[str], parsed: dict[str, str]) -> None:
    assert parse_pairs(pairs) == parsed


@pytest.mark.parametrize("bad", ["A", "1A=x", "A-B=x", "=x"])
def test_a_pair_that_is_not_a_variable_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_pairs([bad])


def paas(api: RunningAPI, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(api.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_config_lives_in_a_secret_owned_by_the_app(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, platform_definitions())
        app = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "shop"}}
        created = await client.create(APPS, app, "default")
    done = paas(sqlite_api, "config", "set", "A=1", "B=two", "--app", "shop")
    assert done.returncode == 0, done.stderr
    done = paas(sqlite_api, "config", "set", "C=3", "--app", "shop", "--branch", "Feature/X")
    assert done.returncode == 0, done.stderr
    done = paas(sqlite_api, "config", "unset", "A", "--app", "shop")
    assert done.returncode == 0, done.stderr
    shown = paas(sqlite_api, "config", "--app", "shop")
    assert shown.stdout == "B=two\n"
    async with APIClient(sqlite_api.client_config()) as client:
        secret = await client.get(SECRETS, "shop-config", "default")
        [branch] = [
            s
            for s in (await client.list(SECRETS, "default"))["items"]
            if s["metadata"]["name"].startswith("shop-feature-x-")
        ]
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {"B": "two"}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert secret["metadata"]["labels"] == {"paas.dev/app": "shop"}
    assert branch["metadata"]["name"].endswith("-config")
    assert branch["metadata"]["labels"]["paas.dev/branch"].startswith("feature-x-")
