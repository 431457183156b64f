"""Who may do what with HorizontalPodAutoscalers under the default roles (SubjectAccessReview)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.apiserver import RunningAPI, start_api
from support.rbac import allowed_by_review

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def rights_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    running = start_api(tmp_path_factory.mktemp("api"))
    try:
        with running.http() as admin:
            admin.post("/api/v1/namespaces", json={"metadata": {"name": "dev"}})
            for user, role in (("viv", "view"), ("eddie", "edit")):
                admin.post(
                    f"{RBAC}/namespaces/dev/rolebindings",
                    json={
                        "metadata": {"name": f"{user}-{role}"},
                        "roleRef": {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "ClusterRole",
                            "name": role,
                        },
                        "subjects": [
                            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}
                        ],
                    },
                )
        yield running
    finally:
        running.stop()


CONTROLLER_MANAGER = "system:kube-controller-manager"


@pytest.mark.parametrize(
    ("user", "attributes", "expected"),
    [
        (
            "viv",
            {"verb": "list", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            True,
        ),
        (
            "viv",
            {"verb": "create", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            False,
        ),
        (
            "eddie",
            {"verb": "create", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            True,
        ),
        (
            "eddie",
            {"verb": "delete", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            True,
        ),
        # the controller-manager: its HPAs, their status, any target's scale, the pods' metrics
        (
            CONTROLLER_MANAGER,
            {"verb": "get", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            True,
        ),
        (
            CONTROLLER_MANAGER,
            {"verb": "watch", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            True,
        ),
        (
            CONTROLLER_MANAGER,
            {
                "verb": "update",
                "group": "autoscaling",
                "resource": "horizontalpodautoscalers",
                "subresource": "status",
            },
            True,
        ),
        (
            CONTROLLER_MANAGER,
            {"verb": "update", "group": "apps", "resource": "deployments", "subresource": "scale"},
            True,
        ),
        (
            CONTROLLER_MANAGER,
            {"verb": "get", "group": "example.com", "resource": "widgets", "subresource": "scale"},
            True,
        ),
        (CONTROLLER_MANAGER, {"verb": "list", "group": "metrics.k8s.io", "resource": "pods"}, True),
        (
            CONTROLLER_MANAGER,
            {"verb": "update", "group": "autoscaling", "resource": "horizontalpodautoscalers"},
            False,
        ),
    ],
)
def test_default_roles_give_hpa_rights_as_kubernetes_does(
    rights_api: RunningAPI, user: str, attributes: dict[str, str], expected: bool
) -> None:
    with rights_api.http() as http:
        assert allowed_by_review(http, user, {"namespace": "dev", **attributes}) is expected
