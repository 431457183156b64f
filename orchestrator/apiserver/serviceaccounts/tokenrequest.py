"""``POST /api/v1/namespaces/NS/serviceaccounts/NAME/token``: a TokenRequest answered.

Kubernetes' rules (``registry/core/serviceaccount/storage/token.go``):

- ``spec.expirationSeconds`` defaults to 3600; under 600 or over 2^32 is 422;
  over the server's maximum (if any) it is shortened;
- empty ``spec.audiences`` means the API server's own;
- ``spec.boundObjectRef`` may name a Pod (which must run as this
  ServiceAccount: else 400), a Secret or a Node (any other kind: 400);
  a ``uid`` that is not the object's is 409 (deleted and made again);
- a pod token asked for exactly 3607 s for the API server's audience lives a
  year instead (``warnafter`` = iat + 3607), so clients that cache tokens do
  not break; ``status.expirationTimestamp`` still says 3607 s, so the kubelet
  refreshes at 80 % of that.

The claims are those of ``pkg/serviceaccount/claims.go``. Nothing is stored;
the objects read are handed to ``BoundObjects.remember`` before the token
goes out, so the token works from its first use.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceTypes
from orchestrator.api.timestamps import rfc3339
from orchestrator.api.validation import format_invalid_message
from orchestrator.api.validation_causes import Cause, invalid
from orchestrator.apiserver.identity import SERVICE_ACCOUNT_PREFIX
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.serviceaccounts import (
    EXTENDED_EXPIRATION,
    WARN_ONLY_EXPIRATION,
    ServiceAccountSettings,
)
from orchestrator.apiserver.serviceaccounts.boundobjects import BoundObjects
from orchestrator.apiserver.serviceaccounts.signing import Signer

API_VERSION = "authentication.k8s.io/v1"
KIND = "TokenRequest"
MAX_SECONDS = 1 << 32


def _validate(spec: dict[str, Any]) -> list[Cause]:
    seconds = spec["expirationSeconds"]
    field = "spec.expirationSeconds"
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return [invalid(field, seconds, "must be an integer")]
    if seconds < 600:
        return [invalid(field, seconds, "may not specify a duration less than 10 minutes")]
    if seconds > MAX_SECONDS:
        return [invalid(field, seconds, "may not specify a duration larger than 2^32 seconds")]
    return []


def parse_request(body: Any, settings: ServiceAccountSettings) -> dict[str, Any]:
    """The request's spec with Kubernetes' defaults, or 400/422."""
    if not isinstance(body, dict) or body.get("kind", KIND) != KIND:
        raise errors.BadRequest(f"the body must be a {KIND} ({API_VERSION})")
    sent = body.get("spec")
    spec: dict[str, Any] = dict(sent) if isinstance(sent, dict) else {}
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise errors.BadRequest("spec.audiences must be a list of strings")
    spec["audiences"] = audiences or list(settings.api_audiences)
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = settings.default_expiration
    causes = _validate(spec)
    if causes:
        raise errors.Invalid(
            format_invalid_message(f"{KIND}.authentication.k8s.io", "", causes),
            details={
                "group": "authentication.k8s.io",
                "kind": KIND,
                "causes": [c.to_dict() for c in causes],
            },
        )
    if settings.max_expiration and spec["expirationSeconds"] > settings.max_expiration:
        spec["expirationSeconds"] = settings.max_expiration
    ref = spec.get("boundObjectRef")
    if ref is not None and not isinstance(ref, dict):
        raise errors.BadRequest("spec.boundObjectRef must be an object")
    return spec


class TokenIssuer:
    def __init__(
        self,
        registry: Registry,
        types: ResourceTypes,
        signer: Signer,
        objects: BoundObjects,
        settings: ServiceAccountSettings,
    ) -> None:
        self.registry = registry
        self.signer = signer
        self.objects = objects
        self.settings = settings
        self._rt = {k: types.require("", k) for k in ("ServiceAccount", "Pod", "Secret", "Node")}

    async def _get(self, kind: str, namespace: str, name: str) -> Obj:
        obj = await self.registry.get(self._rt[kind], namespace, name)
        self.objects.remember(kind, obj)
        return obj

    async def request_token(
        self,
        namespace: str,
        name: str,
        body: Any,
        now: datetime | None = None,
        *,
        node: str | None = None,
    ) -> dict[str, Any]:
        """The TokenRequest answered (201's body), or the error Kubernetes gives.

        ``node``: the node asking (``system:node:<node>``), held to NodeRestriction's rule."""
        spec = parse_request(body, self.settings)
        if node is not None:
            await self._check_node(node, namespace, name, spec.get("boundObjectRef"))
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        account = await self._get("ServiceAccount", namespace, name)
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": account["metadata"]["uid"]},
        }
        pod_bound = await self._bind(spec.get("boundObjectRef"), namespace, name, private)
        now = now or datetime.now(UTC)
        iat = int(now.timestamp())
        seconds = int(spec["expirationSeconds"])
        exp = iat + seconds
        if (
            self.settings.extend_expiration
            and pod_bound
            and seconds == WARN_ONLY_EXPIRATION
            and set(spec["audiences"]) <= set(self.settings.api_audiences)
        ):
            private["warnafter"] = exp
            exp = iat + EXTENDED_EXPIRATION
        claims = {
            "iss": self.settings.issuer,
            "aud": spec["audiences"],
            "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
            "jti": str(uuid.uuid4()),
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "kubernetes.io": private,
        }
        return {
            "kind": KIND,
            "apiVersion": API_VERSION,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(now)},
            "spec": spec,
            "status": {
                "token": self.signer.sign(claims),
                "expirationTimestamp": rfc3339(now + timedelta(seconds=seconds)),
            },
        }

    async def _check_node(
        self, node: str, namespace: str, account: str, ref: dict[str, Any] | None
    ) -> None:
        """NodeRestriction for tokens: a node asks only for tokens bound to its own pods."""

        def refuse(reason: str) -> errors.Forbidden:
            return errors.Forbidden(f'serviceaccounts "{account}" is forbidden: {reason}')

        if not ref:
            raise refuse("node requested token not bound to a pod")
        if ref.get("kind") != "Pod":
            raise refuse("node requested token bound to non-pod object")
        if not ref.get("uid"):
            raise refuse("node requested token with a pod binding without a uid")
        pod = await self._get("Pod", namespace, str(ref.get("name") or ""))
        if pod["metadata"].get("uid") != ref["uid"]:
            raise refuse(
                f"the UID in the bound object reference ({ref['uid']}) does not match the UID "
                "in record. The object might have been deleted and then recreated"
            )
        if (pod.get("spec") or {}).get("nodeName") != node:
            raise refuse("node requested token bound to a pod scheduled on a different node")

    async def _bind(
        self, ref: dict[str, Any] | None, namespace: str, account: str, private: dict[str, Any]
    ) -> bool:
        """Check the bound object and name it in the claims; True for a pod."""
        if not ref:
            return False
        kind, api_version = str(ref.get("kind") or ""), str(ref.get("apiVersion") or "")
        ref_name, ref_uid = str(ref.get("name") or ""), str(ref.get("uid") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if group or kind not in ("Pod", "Secret", "Node"):
            shown = f"{group}/{api_version.rpartition('/')[2]}, Kind={kind}"  # Go's gvk.String()
            raise errors.BadRequest(
                f'cannot bind token for serviceaccount "{account}" to object of kind "{shown}"'
            )
        obj = await self._get(kind, "" if kind == "Node" else namespace, ref_name)
        uid = str(obj["metadata"].get("uid") or "")
        if kind == "Pod":
            spec = obj.get("spec") or {}
            if (spec.get("serviceAccountName") or "default") != account:
                raise errors.BadRequest(
                    f'cannot bind token for serviceaccount "{account}" to pod running with '
                    "different serviceaccount name."
                )
        if ref_uid and ref_uid != uid:
            raise errors.Conflict(
                f'Operation cannot be fulfilled on {kind} "{ref_name}": the UID in the bound '
                f"object reference ({ref_uid}) does not match the UID in record. The object "
                "might have been deleted and then recreated"
            )
        private[kind.lower()] = {"name": ref_name, "uid": uid}
        if kind == "Pod":
            node_name = str((obj.get("spec") or {}).get("nodeName") or "")
            if node_name:
                node_ref: dict[str, str] = {"name": node_name}
                try:
                    node = await self.registry.get(self._rt["Node"], "", node_name)
                    node_ref["uid"] = str(node["metadata"].get("uid") or "")
                except errors.NotFound:
                    pass
                private["node"] = node_ref
        return kind == "Pod"
