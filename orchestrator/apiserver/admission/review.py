"""AdmissionReview v1: the request a webhook receives and the checks on its answer.

``build_review`` writes the request as Kubernetes does
(``webhook/request/admissionreview.go``): a new ``uid`` per call (the
response must echo it), ``kind``/``resource`` and their ``request*`` twins
(equal here: no Equivalent conversion), the effective operation, the user,
``object`` null on DELETE, ``oldObject`` null on CREATE, ``dryRun`` and the
operation's options object. Empty ``name``/``namespace``/``subResource``
are sent as ``""`` rather than left out (Go omits them; both read the same
to every webhook library).

``parse_response`` checks the answer in Kubernetes' order: a body that is
not JSON fails the call (``failed to call webhook: ...``); then ``response``
present, ``uid`` echoed, apiVersion/kind ``admission.k8s.io/v1``
``AdmissionReview``, and patch and patchType together (mutating) or absent
(validating). Each violation is ``received invalid webhook response: ...``.
All of them are ``CallFailure``: the failure policy decides.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from orchestrator.api import jsoncodec
from orchestrator.api.patch import PatchError, apply_json_patch
from orchestrator.apiserver.admission.attributes import Attributes
from orchestrator.apiserver.admission.failures import (
    CallFailure,
    internal_error,
    patch_not_allowed,
)

REVIEW_API_VERSION = "admission.k8s.io/v1"
REVIEW_KIND = "AdmissionReview"
JSON_PATCH = "JSONPatch"


def new_uid() -> str:
    """A request uid, new for every call."""
    return str(uuid.uuid4())


def build_review(attrs: Attributes, uid: str) -> dict[str, Any]:
    """The AdmissionReview request for one call."""
    kind = {"group": attrs.group, "version": attrs.version, "kind": attrs.kind}
    resource = {"group": attrs.group, "version": attrs.version, "resource": attrs.resource}
    request = {
        "uid": uid,
        "kind": kind,
        "resource": resource,
        "subResource": attrs.subresource,
        "requestKind": dict(kind),
        "requestResource": dict(resource),
        "requestSubResource": attrs.subresource,
        "name": attrs.name,
        "namespace": attrs.effective_namespace,
        "operation": attrs.operation,
        "userInfo": attrs.user.to_dict(),
        "object": None if attrs.operation == "DELETE" else attrs.object,
        "oldObject": None if attrs.operation == "CREATE" else attrs.old_object,
        "dryRun": attrs.dry_run,
        "options": attrs.options,
    }
    return {"apiVersion": REVIEW_API_VERSION, "kind": REVIEW_KIND, "request": request}


@dataclass(frozen=True)
class ReviewResponse:
    """The parts of a valid response the dispatcher acts on."""

    allowed: bool
    result: dict[str, Any] | None = None  # the response's ``status``
    patch: bytes = b""  # the JSON patch, base64-decoded, not parsed yet
    patch_type: str = ""
    warnings: tuple[str, ...] = ()
    audit_annotations: dict[str, str] = field(default_factory=dict)


def parse_response(body: bytes, uid: str, *, mutating: bool) -> ReviewResponse:
    """The webhook's answer, checked; raises CallFailure with Kubernetes' reason."""
    try:
        review = jsoncodec.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallFailure(f"failed to call webhook: {_json_error(exc)}") from None
    if not isinstance(review, dict):
        raise CallFailure(
            "failed to call webhook: json: cannot unmarshal "
            f"{_go_type(review)} into Go value of type v1.AdmissionReview"
        )
    response = review.get("response")
    if not isinstance(response, dict):
        raise _invalid("webhook response was absent")
    got_uid = response.get("uid") or ""
    if got_uid != uid:
        raise _invalid(f'expected response.uid="{uid}", got "{got_uid}"')
    got = _gvk(str(review.get("apiVersion") or ""), str(review.get("kind") or ""))
    if got != _gvk(REVIEW_API_VERSION, REVIEW_KIND):
        raise _invalid(
            f"expected webhook response of {_gvk(REVIEW_API_VERSION, REVIEW_KIND)}, got {got}"
        )
    patch = _decode_patch_bytes(response.get("patch"))
    patch_type = response.get("patchType")
    if mutating:
        if patch and patch_type is None:
            raise _invalid("webhook returned response.patch but not response.patchType")
        if not patch and patch_type is not None:
            raise _invalid("webhook returned response.patchType but not response.patch")
        if patch_type == "":
            raise _invalid('webhook returned invalid response.patchType of ""')
    else:
        if patch:
            raise _invalid("validating webhook may not return response.patch")
        if patch_type is not None:
            raise _invalid("validating webhook may not return response.patchType")
    warnings = response.get("warnings") or []
    annotations = response.get("auditAnnotations") or {}
    result = response.get("status")
    return ReviewResponse(
        allowed=response.get("allowed") is True,
        result=result if isinstance(result, dict) else None,
        patch=patch,
        patch_type=str(patch_type or ""),
        warnings=tuple(str(w) for w in warnings) if isinstance(warnings, list) else (),
        audit_annotations=annotations if isinstance(annotations, dict) else {},
    )


def patched_object(
    webhook: str, obj: dict[str, Any] | None, response: ReviewResponse
) -> dict[str, Any] | None:
    """The object with the response's patch applied, or None when there is nothing to apply.

    Raises ``CallFailure`` for an undecodable patch or a patch type other
    than JSONPatch (the failure policy decides), and a 500 for a patch on a
    request without an object (DELETE) or one that does not apply, whatever
    the policy, as Kubernetes does.
    """
    if not response.patch:
        return None
    ops = decode_patch(response.patch)
    if not ops:
        return None
    if obj is None:
        raise patch_not_allowed(webhook)
    if response.patch_type != JSON_PATCH:
        raise CallFailure(f'unsupported patch type "{response.patch_type}"')
    try:
        return apply_json_patch(obj, ops)
    except PatchError as exc:
        raise internal_error(str(exc)) from None


def decode_patch(patch: bytes) -> list[Any]:
    """The JSON patch operations; raises CallFailure when the bytes are not a JSON patch."""
    try:
        ops = json.loads(patch)
    except (ValueError, UnicodeDecodeError) as exc:
        reason = f"received undecodable patch in webhook response: {_json_error(exc)}"
        raise CallFailure(reason) from None
    if not isinstance(ops, list):
        raise CallFailure(
            "received undecodable patch in webhook response: json: cannot unmarshal "
            f"{_go_type(ops)} into Go value of type jsonpatch.Patch"
        )
    return ops


def _decode_patch_bytes(value: Any) -> bytes:
    """``patch`` is Go ``[]byte``: base64 text in JSON (null or absent = no patch)."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise CallFailure(
            "failed to call webhook: json: cannot unmarshal "
            f"{_go_type(value)} into Go struct field AdmissionResponse.response.patch "
            "of type []uint8"
        )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CallFailure("failed to call webhook: illegal base64 data at input byte 0") from None


def _invalid(reason: str) -> CallFailure:
    return CallFailure(f"received invalid webhook response: {reason}")


def _gvk(api_version: str, kind: str) -> str:
    """Go's ``schema.GroupVersionKind.String()``: ``group/version, Kind=kind``."""
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _json_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid character at offset {exc.pos}: {exc.msg}"
    return str(exc)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
