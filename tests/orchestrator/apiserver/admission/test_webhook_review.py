"""The AdmissionReview a webhook receives, and what counts as a valid answer."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from orchestrator.api import errors
from orchestrator.apiserver.admission.attributes import Attributes, UserInfo
from orchestrator.apiserver.admission.failures import CallFailure
from orchestrator.apiserver.admission.review import (
    build_review,
    new_uid,
    parse_response,
    patched_object,
)

CRONTAB = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c1"}}


def attrs(**fields: Any) -> Attributes:
    base: dict[str, Any] = {
        "operation": "UPDATE",
        "group": "stable.example.com",
        "version": "v1",
        "resource": "crontabs",
        "kind": "CronTab",
        "name": "c1",
        "namespace": "default",
        "namespaced": True,
        "user": UserInfo("admin", ("system:masters", "system:authenticated")),
        "object": CRONTAB,
        "old_object": CRONTAB,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"},
    }
    base.update(fields)
    return Attributes(**base)


def test_the_request_names_kind_resource_user_and_objects() -> None:
    review = build_review(attrs(), "uid-1")
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert review["kind"] == "AdmissionReview"
    request = review["request"]
    assert request["uid"] == "uid-1"
    assert request["kind"] == {"group": "stable.example.com", "version": "v1", "kind": "CronTab"}
    assert request["resource"] == {
        "group": "stable.example.com",
        "version": "v1",
        "resource": "crontabs",
    }
    assert request["requestKind"] == request["kind"]
    assert request["requestResource"] == request["resource"]
    assert (request["subResource"], request["requestSubResource"]) == ("", "")
    assert (request["name"], request["namespace"], request["operation"]) == (
        "c1",
        "default",
        "UPDATE",
    )
    assert request["userInfo"] == {
        "username": "admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    assert request["object"] == CRONTAB and request["oldObject"] == CRONTAB
    assert request["dryRun"] is False
    assert request["options"]["kind"] == "UpdateOptions"


def test_a_create_has_no_old_object_and_a_generated_name_is_empty() -> None:
    request = build_review(attrs(operation="CREATE", name=""), new_uid())["request"]
    assert request["oldObject"] is None
    assert request["name"] == ""


def test_a_delete_has_no_object() -> None:
    request = build_review(attrs(operation="DELETE"), new_uid())["request"]
    assert request["object"] is None
    assert request["oldObject"] == CRONTAB


def test_a_namespace_request_names_itself_as_namespace() -> None:
    ns = attrs(group="", resource="namespaces", kind="Namespace", name="team", namespace="")
    assert build_review(ns, new_uid())["request"]["namespace"] == "team"


def test_every_call_gets_a_new_uid() -> None:
    assert new_uid() != new_uid()


def answer(uid: str = "u1", **response: Any) -> bytes:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": True, **response},
    }
    return json.dumps(body).encode()


PATCH = base64.b64encode(b'[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]').decode()


@pytest.mark.parametrize(
    ("body", "mutating", "reason"),
    [
        (
            answer(uid="other"),
            True,
            'received invalid webhook response: expected response.uid="u1", got "other"',
        ),
        (
            json.dumps({"response": {"uid": "u1", "allowed": True}}).encode(),
            True,
            "received invalid webhook response: expected webhook response of "
            "admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind=",
        ),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
            True,
            "received invalid webhook response: webhook response was absent",
        ),
        (
            answer(patch=PATCH),
            True,
            "received invalid webhook response: webhook returned response.patch "
            "but not response.patchType",
        ),
        (
            answer(patchType="JSONPatch"),
            True,
            "received invalid webhook response: webhook returned response.patchType "
            "but not response.patch",
        ),
        (
            answer(patch=PATCH, patchType="JSONPatch"),
            False,
            "received invalid webhook response: validating webhook may not return response.patch",
        ),
        (b"not json", True, None),
    ],
)
def test_invalid_answers_are_call_failures(body: bytes, mutating: bool, reason: str | None) -> None:
    with pytest.raises(CallFailure) as failure:
        parse_response(body, "u1", mutating=mutating)
    if reason is None:
        assert failure.value.reason.startswith("failed to call webhook: ")
    else:
        assert failure.value.reason == reason


def test_a_valid_answer_carries_warnings_and_the_decoded_patch() -> None:
    response = parse_response(
        answer(patch=PATCH, patchType="JSONPatch", warnings=["careful"]), "u1", mutating=True
    )
    assert response.allowed and response.warnings == ("careful",)
    assert patched_object("w.example.com", CRONTAB, response) == {
        **CRONTAB,
        "metadata": {"name": "c1", "labels": {"a": "b"}},
    }


def test_a_missing_allowed_is_a_denial() -> None:
    body = json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "u1"}}
    ).encode()
    assert parse_response(body, "u1", mutating=False).allowed is False


def test_only_json_patches_are_applied() -> None:
    response = parse_response(answer(patch=PATCH, patchType="Merge"), "u1", mutating=True)
    with pytest.raises(CallFailure, match='unsupported patch type "Merge"'):
        patched_object("w.example.com", CRONTAB, response)


def test_a_patch_for_a_delete_is_refused_whatever_the_policy() -> None:
    response = parse_response(answer(patch=PATCH, patchType="JSONPatch"), "u1", mutating=True)
    with pytest.raises(errors.InternalError) as error:
        patched_object("w.example.com", None, response)
    assert error.value.message == (
        'Internal error occurred: admission webhook "w.example.com" attempted to modify '
        "the object, which is not supported for this operation"
    )


def test_a_patch_that_does_not_apply_is_an_internal_error() -> None:
    bad = base64.b64encode(b'[{"op":"remove","path":"/spec/missing"}]').decode()
    response = parse_response(answer(patch=bad, patchType="JSONPatch"), "u1", mutating=True)
    with pytest.raises(errors.InternalError, match=r"^Internal error occurred: "):
        patched_object("w.example.com", CRONTAB, response)
