"""Discovery read back as resource types: what the server serves, as it changes."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from support.apiserver import RunningAPI

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.discovery import KindChanges, ServedKinds, discover_types, types_of_group
from orchestrator.client.rest import APIClient

CRONTABS = ResourceType(
    group="stable.example.com",
    version="v1",
    kind="CronTab",
    plural="crontabs",
    namespaced=True,
    short_names=("ct",),
    categories=("all",),
    subresources=("status", "scale"),
)


def described(rt: ResourceType) -> tuple[Any, ...]:
    """What discovery can tell of a type (it says nothing of metadata.generation)."""
    return (
        rt.group,
        rt.version,
        rt.kind,
        rt.plural,
        rt.namespaced,
        rt.short_names,
        rt.categories,
        rt.subresources,
        rt.extra_versions,
        rt.verbs,
    )


async def test_discovery_reads_back_every_served_kind(sqlite_api: RunningAPI) -> None:
    sqlite_api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
    async with APIClient(sqlite_api.client_config()) as client:
        found = await discover_types(client)
    expected = [*BUILTIN_TYPES.per_resource(), CRONTABS]
    assert sorted(described(rt) for rt in found) == sorted(described(rt) for rt in expected)
    cronjobs = found.by_group_kind("batch", "CronJob")
    assert cronjobs is not None and cronjobs.extra_versions == ("v1beta1",)
    assert found.lookup("", "v1", "pods/status") is None  # subresources are not kinds


async def test_a_group_no_longer_served_drops_out(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        sqlite_api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
        assert (await discover_types(client)).by_group_kind("stable.example.com", "CronTab")
        sqlite_api.serve_types(BUILTIN_TYPES)
        assert (await discover_types(client)).by_group_kind("stable.example.com", "CronTab") is None


def entry(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "namespaced": True, "verbs": ["get", "list"], **extra}


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        pytest.param(
            [("v2", [entry("widgets", "Widget")]), ("v1", [entry("widgets", "Widget")])],
            [("widgets", "v2", ("v1",))],
            id="older-version-of-the-same-kind-is-an-extra-version",
        ),
        pytest.param(
            [("v2", [entry("widgets", "Widget")]), ("v1", [entry("gadgets", "Gadget")])],
            [("widgets", "v2", ()), ("gadgets", "v1", ())],
            id="plural-served-only-by-an-older-version-keeps-that-version",
        ),
        pytest.param(
            [("v2", [entry("widgets", "Widget")]), ("v1", [entry("widgets", "OldWidget")])],
            [("widgets", "v2", ())],
            id="another-kind-under-the-same-plural-is-not-merged",
        ),
        pytest.param(
            [("v1", [entry("widgets", "Widget"), entry("widgets/status", "Widget")])],
            [("widgets", "v1", ())],
            id="subresource-entries-are-not-types",
        ),
    ],
)
def test_types_of_group(lists: list[Any], expected: list[tuple[str, str, tuple[str, ...]]]) -> None:
    types = types_of_group("example.com", lists)
    assert [(rt.plural, rt.version, rt.extra_versions) for rt in types] == expected


def test_subresource_entries_become_the_subresources_of_their_kind() -> None:
    [rt] = types_of_group(
        "example.com",
        [
            (
                "v1",
                [
                    entry("widgets", "Widget", shortNames=["wd"], categories=["all"]),
                    entry("widgets/status", "Widget"),
                    entry("widgets/scale", "Scale", group="autoscaling", version="v1"),
                ],
            )
        ],
    )
    assert rt.subresources == ("status", "scale")
    assert (rt.short_names, rt.categories, rt.verbs) == (("wd",), ("all",), ("get", "list"))


async def test_served_kinds_reports_and_logs_kinds_coming_and_going(
    sqlite_api: RunningAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator.client.discovery")
    async with APIClient(sqlite_api.client_config()) as client:
        namespaced = [rt for rt in BUILTIN_TYPES.per_resource() if rt.namespaced]
        kinds = ServedKinds(client, lambda rt: rt.namespaced, owner="tester", initial=namespaced)
        assert await kinds.refresh() == KindChanges()
        sqlite_api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
        changes = await kinds.refresh()
        assert [rt.group_resource for rt in changes.added] == ["crontabs.stable.example.com"]
        assert changes.removed == ()
        sqlite_api.serve_types(BUILTIN_TYPES)
        changes = await kinds.refresh()
        assert [rt.group_resource for rt in changes.removed] == ["crontabs.stable.example.com"]
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "tester: crontabs.stable.example.com (stable.example.com/v1) is served: handling it"
        in messages
    )
    assert (
        "tester: crontabs.stable.example.com (stable.example.com/v1) is no longer served: dropped"
        in messages
    )
