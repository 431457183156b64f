"""The serving admission webhook: AdmissionReview in, AdmissionReview out.

Two paths, named as Knative's webhook names them:

- ``/defaulting`` (MutatingWebhookConfiguration ``webhook.serving.knative.dev``):
  the object defaulted by ``defaults`` and the difference sent back as a
  JSON patch (none when nothing changed);
- ``/resource-validation`` (ValidatingWebhookConfiguration
  ``validation.webhook.serving.knative.dev``): the object checked by
  ``validation``; a refusal is a 400 BadRequest whose message is
  ``validation failed: <errors>`` as Knative words it, so kubectl prints
  ``admission webhook "validation.webhook.serving.knative.dev" denied the
  request: validation failed: ...``.

Only CREATE and UPDATE of the four kinds are judged; anything else (a
DELETE, a kind this webhook does not know) is allowed untouched. Both
handlers are pure functions of the review (``review_defaulting``,
``review_validation``), so tests call them without a server.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from paas.serving.defaults import DEFAULTERS
from paas.serving.fielderrors import render
from paas.serving.kinds import GROUP
from paas.serving.validation import VALIDATORS

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULTING_PATH = "/defaulting"
VALIDATION_PATH = "/resource-validation"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_patch(old: Any, new: Any, path: str = "") -> list[Obj]:
    """RFC 6902 operations turning ``old`` into ``new`` (objects key by key, lists whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[Obj] = []
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in new.items():
            where = f"{path}/{_escape(key)}"
            if key not in old:
                ops.append({"op": "add", "path": where, "value": value})
            elif old[key] != value:
                ops += json_patch(old[key], value, where)
        return ops
    if old == new:
        return []
    return [{"op": "replace", "path": path, "value": new}]


def _judged(request: Obj) -> str:
    """The kind to judge, or "" when this request is not the webhook's to judge."""
    kind = request.get("kind") or {}
    if kind.get("group") != GROUP or request.get("subResource"):
        return ""
    if request.get("operation") not in ("CREATE", "UPDATE") or request.get("object") is None:
        return ""
    return str(kind.get("kind", ""))


def _answer(request: Obj, **response: Any) -> Obj:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": request.get("uid", ""), **response},
    }


def review_defaulting(review: Obj) -> Obj:
    request = review.get("request") or {}
    kind = _judged(request)
    if kind not in DEFAULTERS:
        return _answer(request, allowed=True)
    obj = request["object"]
    old = request.get("oldObject") if request.get("operation") == "UPDATE" else None
    user = str((request.get("userInfo") or {}).get("username", ""))
    ops = json_patch(obj, DEFAULTERS[kind](obj, old, user))
    if not ops:
        return _answer(request, allowed=True)
    patch = base64.b64encode(json.dumps(ops).encode()).decode()
    return _answer(request, allowed=True, patchType="JSONPatch", patch=patch)


def review_validation(review: Obj) -> Obj:
    request = review.get("request") or {}
    kind = _judged(request)
    if kind not in VALIDATORS:
        return _answer(request, allowed=True)
    old = request.get("oldObject") if request.get("operation") == "UPDATE" else None
    errors = VALIDATORS[kind](request["object"], old)
    if not errors:
        return _answer(request, allowed=True)
    status = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": f"validation failed: {render(errors)}",
        "reason": "BadRequest",
        "code": 400,
    }
    return _answer(request, allowed=False, status=status)


def create_app() -> Starlette:
    def handler(review_fn: Any) -> Any:
        async def handle(request: Request) -> Response:
            try:
                review = await request.json()
            except ValueError:
                return PlainTextResponse("the body is not an AdmissionReview", status_code=400)
            if not isinstance(review, dict):
                return PlainTextResponse("the body is not an AdmissionReview", status_code=400)
            return JSONResponse(review_fn(review))

        return handle

    return Starlette(
        routes=[
            Route(DEFAULTING_PATH, handler(review_defaulting), methods=["POST"]),
            Route(VALIDATION_PATH, handler(review_validation), methods=["POST"]),
            Route("/healthz", lambda _r: PlainTextResponse("ok"), methods=["GET"]),
        ]
    )
