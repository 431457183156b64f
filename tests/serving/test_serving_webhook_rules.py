"""Knative's defaults and validation, as pure functions: the texts users see, case by case.

Expected messages are Knative's (``knative.dev/pkg/apis/field_error.go`` and
``pkg/apis/serving/v1/*_validation.go``), as kubectl prints them after
``admission webhook "validation.webhook.serving.knative.dev" denied the request:``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from paas.serving.defaults import default_service
from paas.serving.fielderrors import render
from paas.serving.validation import validate_revision, validate_route, validate_service
from paas.serving.webhook import json_patch, review_defaulting, review_validation

SLUG = "slug:sha256:" + "a" * 64


def ksvc(**template_annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": dict(template_annotations)},
                "spec": {
                    "containers": [
                        {
                            "image": "ghcr.io/knative/helloworld-go:latest",
                            "env": [{"name": "TARGET", "value": "World"}],
                        }
                    ]
                },
            }
        },
    }


def test_a_hello_world_service_gets_knatives_defaults() -> None:
    out = default_service(ksvc(), None, "alice")
    spec = out["spec"]["template"]["spec"]
    assert spec["timeoutSeconds"] == 300
    assert spec["containerConcurrency"] == 0
    assert spec["enableServiceLinks"] is False
    [container] = spec["containers"]
    assert container["name"] == "user-container"
    assert container["readinessProbe"] == {"tcpSocket": {"port": 0}, "successThreshold": 1}
    assert container["resources"] == {}
    assert out["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    annotations = out["metadata"]["annotations"]
    assert annotations["serving.knative.dev/creator"] == "alice"
    assert annotations["serving.knative.dev/lastModifier"] == "alice"


def test_an_update_changes_only_the_last_modifier_and_only_with_the_spec() -> None:
    stored = default_service(ksvc(), None, "alice")
    same = default_service(copy.deepcopy(stored), stored, "bob")
    assert same["metadata"]["annotations"]["serving.knative.dev/lastModifier"] == "alice"
    changed = copy.deepcopy(stored)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = SLUG
    out = default_service(changed, stored, "bob")
    assert out["metadata"]["annotations"]["serving.knative.dev/creator"] == "alice"
    assert out["metadata"]["annotations"]["serving.knative.dev/lastModifier"] == "bob"


def test_several_containers_are_named_by_index_and_traffic_targets_get_their_defaults() -> None:
    svc = ksvc()
    svc["spec"]["template"]["spec"]["containers"] = [
        {"image": "a", "ports": [{"containerPort": 8080}]},
        {"image": "b"},
    ]
    svc["spec"]["traffic"] = [{"revisionName": "hello-00001", "percent": 100}, {"tag": "next"}]
    out = default_service(svc, None, "")
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["user-container-0", "user-container-1"]
    assert out["spec"]["traffic"] == [
        {"revisionName": "hello-00001", "percent": 100, "latestRevision": False},
        {"tag": "next", "latestRevision": True, "percent": 0},
    ]


AS = "spec.template.metadata.annotations.autoscaling.knative.dev"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["spec"].__setitem__("traffic", [{"latestRevision": True, "percent": 90}]),
            "Traffic targets sum to 90, want 100: spec.traffic",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/min-scale": "3", "autoscaling.knative.dev/max-scale": "2"}
            ),
            f"max-scale=2 is less than min-scale=3: {AS}/max-scale, {AS}/min-scale",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/min-scale": "many"}
            ),
            f"invalid value: many: {AS}/min-scale",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/window": "5s"}
            ),
            f"expected 6s <= 5s <= 1h0m0s: {AS}/window",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/target-utilization-percentage": "150"}
            ),
            f"expected 1 <= 150 <= 100: {AS}/target-utilization-percentage",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/class": "foo.knative.dev"}
            ),
            f"invalid value: foo.knative.dev: {AS}/class",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/metric": "cpu"}
            ),
            f"invalid value: cpu: {AS}/metric",
        ),
        (
            lambda s: s["spec"]["template"].__setitem__("metadata", {"name": "other-00001"}),
            'invalid value: "other-00001" must have prefix "hello-": spec.template.metadata.name',
        ),
        (
            lambda s: s["metadata"].__setitem__(
                "annotations", {"autoscaling.knative.dev/min-scale": "1"}
            ),
            'invalid key name "autoscaling.knative.dev/min-scale": metadata.annotations\n'
            "autoscaling annotations must be put under "
            '"spec.template.metadata.annotations" to work',
        ),
        (
            lambda s: s["spec"]["template"]["spec"]["containers"][0].update(
                {"ports": [{"containerPort": 8012}]}
            ),
            "invalid value: 8012 is a reserved port: "
            "spec.template.spec.containers[0].ports.containerPort\n"
            "8012 is a reserved port, please use a different value",
        ),
        (
            lambda s: s["spec"]["template"]["spec"]["containers"][0]["env"].append(
                {"name": "PORT", "value": "1"}
            ),
            '"PORT" is a reserved environment variable: '
            "spec.template.spec.containers[0].env[1].name",
        ),
        (
            lambda s: s["spec"]["template"]["spec"]["containers"][0].update({"stdin": True}),
            "must not set the field(s): spec.template.spec.containers[0].stdin",
        ),
        (
            lambda s: s["spec"]["template"]["spec"].__setitem__("containerConcurrency", 1001),
            "expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency",
        ),
        (
            lambda s: s["spec"]["template"]["spec"]["containers"][0].update(
                {"image": "Not An Image"}
            ),
            "Failed to parse image reference: spec.template.spec.containers[0].image\n"
            'image: "Not An Image", error: could not parse reference: Not An Image',
        ),
        (
            lambda s: s["spec"].__setitem__(
                "traffic",
                [
                    {"tag": "a", "latestRevision": True, "percent": 50},
                    {"tag": "a", "revisionName": "hello-00001", "percent": 50},
                ],
            ),
            'Multiple definitions for "a": spec.traffic[0].tag, spec.traffic[1].tag',
        ),
        (
            lambda s: s["spec"].__setitem__(
                "traffic", [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}]
            ),
            'may not set revisionName "hello-00001" when latestRevision is true: '
            "spec.traffic[0].latestRevision",
        ),
        (
            lambda s: s["metadata"].__setitem__("name", "Hello"),
            "not a DNS 1035 label: [a DNS-1035 label must consist of lower case alphanumeric "
            "characters or '-', start with an alphabetic character, and end with an alphanumeric "
            "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')]: metadata.name",
        ),
    ],
)
def test_an_invalid_service_is_refused_with_knatives_message(change: Any, message: str) -> None:
    svc = ksvc()
    change(svc)
    assert render(validate_service(default_service(svc, None, "u"), None)) == message


def test_a_valid_service_with_autoscaling_a_tag_and_a_slug_image_passes() -> None:
    svc = ksvc(
        **{
            "autoscaling.knative.dev/min-scale": "1",
            "autoscaling.knative.dev/max-scale": "5",
            "autoscaling.knative.dev/target": "10",
            "autoscaling.knative.dev/window": "60s",
            "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "1m5s",
        }
    )
    svc["spec"]["template"]["spec"]["containers"][0]["image"] = SLUG
    svc["spec"]["template"]["spec"]["containerConcurrency"] = 10
    svc["spec"]["traffic"] = [
        {"latestRevision": True, "percent": 90},
        {"revisionName": "hello-00001", "percent": 10, "tag": "old"},
    ]
    assert validate_service(default_service(svc, None, "u"), None) == []


def test_a_template_changed_under_the_same_name_is_refused_on_update() -> None:
    svc = ksvc()
    svc["spec"]["template"]["metadata"]["name"] = "hello-one"
    old = default_service(svc, None, "u")
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = SLUG
    text = render(validate_service(default_service(new, old, "u"), old))
    assert text.startswith(
        "Saw the following changes without a name change (-old +new): spec.template.metadata.name\n"
    )


def test_a_revision_spec_is_immutable() -> None:
    revision = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": "hello-00001"},
        "spec": {"containers": [{"image": "a"}]},
    }
    changed = copy.deepcopy(revision)
    changed["spec"]["containers"][0]["image"] = "b"
    text = render(validate_revision(changed, revision))
    assert text.startswith("Immutable fields changed (-old +new): spec\n")
    assert validate_revision(copy.deepcopy(revision), revision) == []


def test_a_standalone_route_needs_a_target_name_and_a_sum_of_100() -> None:
    route = {
        "metadata": {"name": "r"},
        "spec": {"traffic": [{"percent": 100, "latestRevision": True}]},
    }
    assert render(validate_route(route, None)) == (
        "expected exactly one, got neither: spec.traffic[0].configurationName, "
        "spec.traffic[0].revisionName"
    )


def review(obj: dict[str, Any], operation: str = "CREATE", old: Any = None) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "serving.knative.dev", "version": "v1", "kind": obj["kind"]},
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": obj,
            "oldObject": old,
        },
    }


def test_the_defaulting_review_answers_a_json_patch_that_yields_the_defaults() -> None:
    import base64
    import json

    answer = review_defaulting(review(ksvc()))["response"]
    assert answer["uid"] == "u-1" and answer["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(answer["patch"]))
    assert {
        "op": "add",
        "path": "/spec/traffic",
        "value": [{"latestRevision": True, "percent": 100}],
    } in ops
    assert any(op["path"] == "/metadata/annotations" for op in ops)


def test_the_validation_review_refuses_with_a_bad_request_in_knatives_words() -> None:
    svc = default_service(ksvc(), None, "u")
    svc["spec"]["traffic"] = [{"latestRevision": True, "percent": 50}]
    answer = review_validation(review(svc))["response"]
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 400 and answer["status"]["reason"] == "BadRequest"
    assert answer["status"]["message"] == (
        "validation failed: Traffic targets sum to 50, want 100: spec.traffic"
    )
    assert review_validation(review(svc, "DELETE"))["response"]["allowed"] is True


def test_json_patch_escapes_annotation_keys() -> None:
    ops = json_patch({"a": {}}, {"a": {"x/y~z": "1"}})
    assert ops == [{"op": "add", "path": "/a/x~1y~0z", "value": "1"}]
