"""The ServiceAccount admission plugin: every pod runs as an account, with its token mounted.

On Pod CREATE, as Kubernetes' ``plugin/pkg/admission/serviceaccount``:

1. ``spec.serviceAccountName`` (else the deprecated ``serviceAccount``)
   defaults to ``default``; both fields are set.
2. The account must exist: else 403 ``error looking up service account
   ns/x: serviceaccount "x" not found``.
3. Its ``imagePullSecrets`` are copied when the pod has none.
4. Unless automount is off (the pod's field, else the account's), a projected
   volume ``kube-api-access-<5 chars>`` (token for 3607 s, ``ca.crt`` from the
   ConfigMap ``kube-root-ca.crt``, ``namespace``) is added and mounted
   read-only at ``/var/run/secrets/kubernetes.io/serviceaccount`` in every
   container and init container that does not mount that path already.
   Mirror pods are left alone.

One departure, on purpose: Kubernetes refuses a pod whose ``default``
account the controller has not made yet (a namespace created a moment ago),
and relies on clients to retry; ``kubectl apply`` of a namespace and its
pods in one file then fails for a user. Here the plugin makes ``default``
itself (and ``kube-root-ca.crt`` when the server knows its CA), exactly as
the controller would, so the pod is admitted at once. A named account that
does not exist is refused as in Kubernetes. A dry run creates nothing.

Accounts come from ``BoundObjects`` (memory), the store only on a miss.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.apiserver.objectmeta import generate_name
from orchestrator.apiserver.registry import AdmissionRequest, Registry, WriteOptions
from orchestrator.apiserver.serviceaccounts import WARN_ONLY_EXPIRATION
from orchestrator.apiserver.serviceaccounts.boundobjects import BoundObjects, Known

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def token_volume(name: str) -> dict[str, Any]:
    """The projected volume Kubernetes gives every pod (reference section 5)."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {
                    "serviceAccountToken": {
                        "expirationSeconds": WARN_ONLY_EXPIRATION,
                        "path": "token",
                    }
                },
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIGMAP,
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def mount_token(pod: Obj, volume_name: str) -> None:
    """Add the volume and its mounts to ``pod`` (in place), where containers lack them."""
    spec = pod.setdefault("spec", {})
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    existing = next(
        (
            v["name"]
            for v in volumes
            if isinstance(v, dict) and str(v.get("name") or "").startswith(VOLUME_PREFIX)
        ),
        None,
    )
    name = existing or volume_name
    needed = False
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            if not isinstance(container, dict):
                continue
            mounts = container.get("volumeMounts")
            if not isinstance(mounts, list):
                mounts = []
            if any(isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            container["volumeMounts"] = [
                *mounts,
                {"name": name, "readOnly": True, "mountPath": MOUNT_PATH},
            ]
            needed = True
    if needed and existing is None:
        spec["volumes"] = [*volumes, token_volume(name)]


def should_automount(pod: Obj, account: Known) -> bool:
    own = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if isinstance(own, bool):
        return own
    return account.automount if account.automount is not None else True


class ServiceAccountAdmission:
    """An ``AdmissionHook`` (registry.py): mutates Pod creates, validates nothing else."""

    def __init__(
        self,
        registry: Registry,
        types: ResourceTypes,
        objects: BoundObjects,
        root_ca: Path | None = None,
    ) -> None:
        self.registry = registry
        self.objects = objects
        self.root_ca = root_ca
        self._accounts = types.require("", "ServiceAccount")
        self._config_maps = types.require("", "ConfigMap")
        self._has_root_ca: set[str] = set()  # namespaces seen with it (the controller keeps it)

    @property
    def enabled(self) -> bool:
        return True

    def wants(self, rt: ResourceType) -> bool:
        """Pods only: every other write skips admission (and its second defaulting)."""
        return rt.kind == "Pod" and not rt.group

    async def validate(self, request: AdmissionRequest) -> list[str]:
        return []

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]:
        rt = request.rt
        if request.operation != "CREATE" or rt.group or rt.kind != "Pod" or request.subresource:
            return None, []
        pod = request.obj
        if not isinstance(pod, dict):
            return None, []
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if isinstance(annotations, dict) and MIRROR_ANNOTATION in annotations:
            return None, []
        pod = copy.deepcopy(pod)
        spec = pod.setdefault("spec", {})
        name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_ACCOUNT)
        spec["serviceAccountName"] = spec["serviceAccount"] = name
        account = await self._account(request.namespace, name, request.name, request.opts)
        if not spec.get("imagePullSecrets") and account.pull_secrets:
            spec["imagePullSecrets"] = [{"name": n} for n in account.pull_secrets]
        if should_automount(pod, account):
            mount_token(pod, generate_name(VOLUME_PREFIX))
            if not request.opts.dry_run:
                await self._ensure_root_ca(request.namespace)
        return pod, []

    async def _account(self, namespace: str, name: str, pod: str, opts: WriteOptions) -> Known:
        known = self.objects.get("ServiceAccount", namespace, name)
        if known is not None:
            return known
        try:
            obj = await self.registry.get(self._accounts, namespace, name)
        except errors.NotFound:
            if name != DEFAULT_ACCOUNT:
                raise errors.Forbidden(
                    f'pods "{pod}" is forbidden: error looking up service account '
                    f'{namespace}/{name}: serviceaccount "{name}" not found'
                ) from None
            if opts.dry_run:
                return Known("", "", 0)
            obj = await self._create_default(namespace)
        self.objects.remember("ServiceAccount", obj)
        known = self.objects.get("ServiceAccount", namespace, name)
        assert known is not None
        return known

    async def _create_default(self, namespace: str) -> Obj:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_ACCOUNT}}
        try:
            result = await self.registry.create(self._accounts, namespace, body, WriteOptions())
            return result.obj
        except errors.AlreadyExists:  # the controller was quicker
            return await self.registry.get(self._accounts, namespace, DEFAULT_ACCOUNT)

    async def _ensure_root_ca(self, namespace: str) -> None:
        if self.root_ca is None or namespace in self._has_root_ca or not self.root_ca.is_file():
            return
        try:
            await self.registry.get(self._config_maps, namespace, ROOT_CA_CONFIGMAP)
            self._has_root_ca.add(namespace)
            return
        except errors.NotFound:
            pass
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIGMAP},
            "data": {"ca.crt": self.root_ca.read_text()},
        }
        try:
            await self.registry.create(self._config_maps, namespace, body, WriteOptions())
        except errors.AlreadyExists:
            pass
        self._has_root_ca.add(namespace)
