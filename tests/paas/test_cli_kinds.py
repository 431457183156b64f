"""Kind resolution from discovery documents: pure, no server."""

from __future__ import annotations

import pytest

from paas.cli.kinds import (
    Catalogue,
    NoKindMatch,
    Selection,
    UnknownKind,
    UsageError,
    catalogue_from_discovery,
    parse_selections,
)

CORE = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "shortNames": ["po"],
            "categories": ["all"],
        },
        {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod"},
        {
            "name": "services",
            "singularName": "service",
            "namespaced": True,
            "kind": "Service",
            "shortNames": ["svc"],
            "categories": ["all"],
        },
        {
            "name": "configmaps",
            "singularName": "configmap",
            "namespaced": True,
            "kind": "ConfigMap",
            "shortNames": ["cm"],
        },
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "shortNames": ["ns"],
        },
    ],
}
GROUPS = {
    "kind": "APIGroupList",
    "groups": [
        {
            "name": "apps",
            "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
        },
        {
            "name": "batch",
            "versions": [
                {"groupVersion": "batch/v1", "version": "v1"},
                {"groupVersion": "batch/v1beta1", "version": "v1beta1"},
            ],
            "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
        },
        {
            "name": "serving.knative.dev",
            "versions": [{"groupVersion": "serving.knative.dev/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "serving.knative.dev/v1", "version": "v1"},
        },
    ],
}
LISTS = {
    "apps/v1": {
        "resources": [
            {
                "name": "deployments",
                "singularName": "deployment",
                "namespaced": True,
                "kind": "Deployment",
                "shortNames": ["deploy"],
                "categories": ["all"],
            },
            {"name": "deployments/scale", "singularName": "", "namespaced": True, "kind": "Scale"},
        ]
    },
    "batch/v1": {
        "resources": [
            {
                "name": "cronjobs",
                "singularName": "cronjob",
                "namespaced": True,
                "kind": "CronJob",
                "shortNames": ["cj"],
                "categories": ["all"],
            },
        ]
    },
    "batch/v1beta1": {
        "resources": [
            {
                "name": "cronjobs",
                "singularName": "cronjob",
                "namespaced": True,
                "kind": "CronJob",
                "shortNames": ["cj"],
                "categories": ["all"],
            },
        ]
    },
    "serving.knative.dev/v1": {
        "resources": [
            {
                "name": "services",
                "singularName": "service",
                "namespaced": True,
                "kind": "Service",
                "shortNames": ["kservice", "ksvc"],
            },
        ]
    },
}


@pytest.fixture
def catalogue() -> Catalogue:
    return catalogue_from_discovery(CORE, GROUPS, LISTS)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("pods", ("", "v1", "pods")),
        ("pod", ("", "v1", "pods")),
        ("po", ("", "v1", "pods")),
        ("Pod", ("", "v1", "pods")),
        ("deploy", ("apps", "v1", "deployments")),
        ("Deployment", ("apps", "v1", "deployments")),
        ("deployments.apps", ("apps", "v1", "deployments")),
        ("deployment.apps", ("apps", "v1", "deployments")),
        ("cm", ("", "v1", "configmaps")),
        ("svc", ("", "v1", "services")),
        ("services", ("", "v1", "services")),
        ("services.serving.knative.dev", ("serving.knative.dev", "v1", "services")),
        ("ksvc", ("serving.knative.dev", "v1", "services")),
        ("cj", ("batch", "v1", "cronjobs")),
        ("ns", ("", "v1", "namespaces")),
    ],
)
def test_resolve_finds_one_resource_by_any_of_its_names(
    catalogue: Catalogue, word: str, expected: tuple[str, str, str]
) -> None:
    [res] = catalogue.resolve(word)
    assert (res.group, res.version, res.plural) == expected


def test_resolve_all_expands_the_category_in_discovery_order(catalogue: Catalogue) -> None:
    assert [r.plural for r in catalogue.resolve("all")] == [
        "pods",
        "services",
        "deployments",
        "cronjobs",
    ]


def test_resolve_many_splits_commas_and_drops_duplicates(catalogue: Catalogue) -> None:
    found = catalogue.resolve_many("deploy,svc,deployments")
    assert [r.kind_name for r in found] == ["deployment.apps", "service"]


@pytest.mark.parametrize("word", ["foo", "pods.apps", "status", "pods/status", ""])
def test_resolve_unknown_word_says_the_server_has_no_such_type(
    catalogue: Catalogue, word: str
) -> None:
    with pytest.raises(UnknownKind) as info:
        catalogue.resolve_many(word) if not word else catalogue.resolve(word)
    assert "the server doesn't have a resource type" in str(info.value)


@pytest.mark.parametrize(
    ("api_version", "kind", "plural"),
    [
        ("apps/v1", "Deployment", "deployments"),
        ("v1", "ConfigMap", "configmaps"),
        ("batch/v1beta1", "CronJob", "cronjobs"),
        ("serving.knative.dev/v1", "Service", "services"),
    ],
)
def test_for_kind_matches_manifest_api_version(
    catalogue: Catalogue, api_version: str, kind: str, plural: str
) -> None:
    res = catalogue.for_kind(api_version, kind)
    assert (res.api_version, res.plural) == (api_version, plural)


@pytest.mark.parametrize(("api_version", "kind"), [("apps/v2", "Deployment"), ("v1", "Foo")])
def test_for_kind_unknown_names_kind_and_version(
    catalogue: Catalogue, api_version: str, kind: str
) -> None:
    with pytest.raises(NoKindMatch, match=f'no matches for kind "{kind}"'):
        catalogue.for_kind(api_version, kind)


def test_resource_names_for_messages(catalogue: Catalogue) -> None:
    [deploy] = catalogue.resolve("deploy")
    [cm] = catalogue.resolve("cm")
    assert (deploy.kind_name, deploy.group_resource) == ("deployment.apps", "deployments.apps")
    assert (cm.kind_name, cm.group_resource) == ("configmap", "configmaps")
    rt = deploy.resource_type()
    assert (rt.api_version, rt.plural, rt.namespaced) == ("apps/v1", "deployments", True)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], []),
        (["deploy"], [Selection("deploy")]),
        (["deploy", "a", "b"], [Selection("deploy", ("a", "b"))]),
        (["deploy,svc"], [Selection("deploy,svc")]),
        (["deploy/a", "svc/b"], [Selection("deploy", ("a",)), Selection("svc", ("b",))]),
    ],
)
def test_parse_selections(words: list[str], expected: list[Selection]) -> None:
    assert parse_selections(words) == expected


@pytest.mark.parametrize("words", [["deploy", "svc/b"], ["deploy/a", "b"], ["deploy/"]])
def test_parse_selections_refuses_mixed_forms(words: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_selections(words)
