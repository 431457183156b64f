"""Object storage semantics over the Store: the verbs, minus HTTP.

Every write follows one path so that the rules hold for all of them:
decode -> fill server metadata -> default -> validate -> (allocate) -> store.
A rejected request raises before the store is touched, and whatever was
allocated for it is released, so it changes nothing.

Updates are "guaranteed updates": read the current object, apply the change
(a full replacement, a patch, a status write, a binding...), and compare-and-
swap on the revision read. A client that named a resourceVersion gets 409 if
it is stale; a client that did not is retried against the fresh object.

Deletion honours finalizers: while any remain the object stays, with
``deletionTimestamp`` set, and it goes when an update empties them. Pods bound
to a node are deleted gracefully (the node agent confirms with a zero grace
period); Orphan and Foreground propagation add the matching finalizers that
the garbage collector resolves.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from orchestrator.api import errors, jsoncodec
from orchestrator.api.copying import copy_json
from orchestrator.api.objects import Obj, labels_of, metadata_of
from orchestrator.api.resources import ResourceType
from orchestrator.api.selectors import FieldSelector, LabelSelector
from orchestrator.api.strategy import strategy_of
from orchestrator.api.validation import invalid_error
from orchestrator.apiserver import continuetokens, managedfields, objectmeta, services
from orchestrator.apiserver.allocators import Allocators
from orchestrator.apiserver.wire import check_encoded_size
from orchestrator.store.base import (
    Compacted,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    Store,
)

# A change to an object: it gets a deep copy of the stored object, its own to modify
# and return, and may be called again with a fresh copy if a concurrent write wins.
Mutation = Callable[[Obj], Obj]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"  # deleting a CRD's objects
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_MAX_RETRIES = 16
_SCHEME = "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    field_validation: str = (
        "Warn"  # Strict | Warn | Ignore (Kubernetes' default for kubectl is Strict)
    )
    user: str = ""  # who writes, as admission webhooks are told ("" = the server itself)
    groups: tuple[str, ...] = ()
    field_manager: str = ""
    # server-side apply: the object comes with its managedFields computed (applying.py)
    apply: bool = False


@dataclass(frozen=True)
class AdmissionRequest:
    """One write as admission sees it: the effective operation and the objects."""

    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    namespace: str
    name: str
    obj: Obj | None  # as it would be stored (None on DELETE)
    old: Obj | None  # as stored (None on CREATE)
    opts: WriteOptions
    subresource: str = ""


class AdmissionHook(Protocol):
    """Admission webhooks, called by every write (``webhooks.Admission``)."""

    @property
    def enabled(self) -> bool:
        """False when no webhook is configured: writes then skip admission entirely."""
        ...

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]: ...

    async def validate(self, request: AdmissionRequest) -> list[str]: ...


@dataclass
class WriteResult:
    obj: Obj
    warnings: list[str] = field(default_factory=list)
    created: bool = False


def encode(obj: Obj) -> bytes:
    meta = metadata_of(obj)
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return jsoncodec.dumps(obj)


def decode(kv: KeyValue | bytes, revision: int = 0) -> Obj:
    raw = kv.value if isinstance(kv, KeyValue) else kv
    obj: Obj = jsoncodec.loads(raw)
    rv = kv.mod_revision if isinstance(kv, KeyValue) else revision
    obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
    return obj


class Registry:
    def __init__(self, store: Store, alloc: Allocators) -> None:
        self.store = store
        self.alloc = alloc
        self.admission: AdmissionHook | None = None  # set once the server has its webhooks

    # -- reads ---------------------------------------------------------------

    async def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        kv = await self.store.get(rt.storage_key(namespace, name))
        if kv is None:
            raise not_found(rt, name)
        return strategy_of(rt).for_read(decode(kv))

    async def list(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str = "",
        revision: int = 0,
    ) -> tuple[list[Obj], int, str]:
        """Matching objects, the list's revision, and a continue token ("" when done).

        ``revision`` 0 reads the latest state, N the state as of N (410 once
        compacted); a continue token reads at its first page's revision.
        """
        prefix = rt.storage_prefix(namespace)
        start_after = ""
        if continue_token:
            start_after, revision = continuetokens.decode(continue_token, prefix)
        out: list[Obj] = []
        for_read = strategy_of(rt).for_read
        while True:
            try:
                page = await self.store.list(
                    prefix,
                    start_after=start_after,
                    limit=(limit - len(out)) if limit else 0,
                    revision=revision,
                )
            except Compacted:
                if continue_token:
                    raise continuetokens.expired(start_after, prefix) from None
                raise errors.Gone(continuetokens.EXPIRED_LIST) from None
            revision = page.revision  # every further page at the first one's revision
            for kv in page.items:
                obj = for_read(decode(kv))
                if matches(obj, labels, fields):
                    out.append(obj)
            if not page.more:
                return out, revision, ""
            start_after = page.items[-1].key
            if limit and len(out) >= limit:
                return out, revision, continuetokens.encode(start_after, prefix, revision)

    # -- create --------------------------------------------------------------

    async def create(
        self, rt: ResourceType, namespace: str, obj: Obj, opts: WriteOptions
    ) -> WriteResult:
        obj = self._admit_body(rt, namespace, obj)
        sent_version = metadata_of(obj).get("resourceVersion")
        if rt.terminating:
            raise errors.Forbidden(
                f'{rt.group_resource} "{metadata_of(obj).get("name", "")}" is forbidden: create '
                "not allowed while custom resource definition is terminating"
            )
        warnings = check_unknown_fields(rt, obj, opts)
        if rt.namespaced:
            await self._check_namespace_open(namespace)
        strategy = strategy_of(rt)
        admission = self._admission(rt)
        if admission is not None:
            # Mutating webhooks see the object as decoded and defaulted: no uid, no
            # creationTimestamp, no name yet for a generateName, the status as sent.
            objectmeta.wipe_system_fields(obj)
            obj = strategy.default(obj)
            name = str(obj["metadata"].get("name") or "")
            request = AdmissionRequest("CREATE", rt, namespace, name, obj, None, opts)
            obj = await self._mutate(admission, request, warnings)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = objectmeta.generate_name(str(meta["generateName"]))
        objectmeta.fill_for_create(
            obj, has_generation=rt.has_generation, now=objectmeta.now_rfc3339()
        )
        reset_status_on_create(rt, obj)
        obj = strategy.default(obj)  # again with the uid and name (a Job's selector needs them)
        if not opts.apply:
            managedfields.record_write(rt, None, obj, opts.field_manager)
        meta = obj["metadata"]
        self._validate(rt, obj)
        if admission is not None:
            request = AdmissionRequest("CREATE", rt, namespace, meta["name"], obj, None, opts)
            warnings += await admission.validate(request)
        data = check_encoded_size(encode(strategy.for_storage(obj)))
        taken: list[tuple[str, Any]] = []
        if rt.kind == "Service" and not rt.group:
            taken = await services.allocate_service(self.alloc, obj, None)
            data = encode(strategy.for_storage(obj))  # with the addresses and ports allocated
        if opts.dry_run:  # shows the addresses it would get, and gives them back
            await services.release(self.alloc, taken)
            # Kubernetes' dry-run storage looks the key up: a name in use is a 409 here too
            try:
                in_use = await self.store.get(rt.storage_key(namespace, meta["name"])) is not None
            except errors.InternalError:  # stored, but no key opens it (encryption at rest)
                in_use = True
            if in_use:
                raise _already_exists(rt, meta["name"])
            return WriteResult(obj, warnings, created=True)
        try:
            if sent_version:  # Kubernetes' storage checks it, after a dry run has returned
                raise errors.BadRequest(
                    "resourceVersion should not be set on objects to be created"
                )
            revision = await self.store.create(rt.storage_key(namespace, meta["name"]), data)
        except KeyExists:
            await services.release(self.alloc, taken)
            raise _already_exists(rt, meta["name"]) from None
        except BaseException:
            await services.release(self.alloc, taken)
            raise
        obj["metadata"]["resourceVersion"] = str(revision)  # defaulting copied obj: not `meta`
        return WriteResult(obj, warnings, created=True)

    def _admit_body(self, rt: ResourceType, namespace: str, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.BadRequest(
                f"the body must be a {rt.kind} object, not {type(obj).__name__}"
            )
        obj = copy_json(obj)
        kind = obj.setdefault("kind", rt.kind)
        if kind != rt.kind:
            raise errors.BadRequest(
                f"the kind of the object ({kind}) does not match the URL ({rt.kind})"
            )
        api_version = obj.get("apiVersion") or rt.api_version
        if rt.storage_version and api_version != rt.api_version:  # a custom kind: exact version
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        if not isinstance(api_version, str) or api_version.rpartition("/")[0] != rt.group:
            raise errors.BadRequest(
                f"the apiVersion of the object ({api_version}) does not match the URL "
                f"({rt.api_version})"
            )
        if api_version.rpartition("/")[2] not in (rt.version, *rt.extra_versions):
            raise errors.BadRequest(  # Kubernetes' decoder names its scheme in the message
                f'no kind "{kind}" is registered for version "{api_version}" in scheme "{_SCHEME}"'
            )
        obj["apiVersion"] = rt.api_version
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.BadRequest("metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.BadRequest(
                    "the namespace of the provided object does not match the namespace sent on "
                    f"the request ({meta['namespace']} != {namespace})"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _admission(self, rt: ResourceType) -> AdmissionHook | None:
        admission = self.admission
        if admission is None or not admission.enabled:
            return None
        # Optional ``wants(rt)``: a hook about a few kinds (RBAC's escalation check) lets
        # every other write skip admission, and its second defaulting, entirely.
        wants = getattr(admission, "wants", None)
        return admission if wants is None or wants(rt) else None

    async def _mutate(
        self, admission: AdmissionHook, request: AdmissionRequest, warnings: builtins.list[str]
    ) -> Obj:
        """The object after the mutating webhooks, pruned and defaulted again."""
        assert request.obj is not None
        mutated, said = await admission.mutate(request)
        warnings += said
        if mutated is None or mutated is request.obj:
            return request.obj
        strategy = strategy_of(request.rt)
        strategy.unknown_fields(mutated)  # a webhook's unknown fields are pruned, not reported
        return strategy.default(mutated)

    async def _check_namespace_open(self, namespace: str) -> None:
        kv = await self.store.get(f"/registry/core/namespaces/{namespace}")
        if kv is None:
            raise errors.NotFound(
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            )
        if jsoncodec.loads(kv.value)["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated"
            )

    def _validate(self, rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
        causes = strategy_of(rt).validate(obj, namespaced=rt.namespaced, old=old)
        if causes:
            raise invalid_error(rt, str(metadata_of(obj).get("name", "")), list(causes))

    # -- update --------------------------------------------------------------

    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Obj,
        opts: WriteOptions,
        subresource: str = "",
    ) -> WriteResult:
        """PUT: replace the object (or only its status, for ``subresource="status"``)."""
        new = self._admit_body(rt, namespace, body)
        body_name = new["metadata"].get("name")
        if body_name and body_name != name:
            raise errors.BadRequest(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        new["metadata"]["name"] = name
        warnings = check_unknown_fields(rt, new, opts)

        # A PUT without metadata.resourceVersion is unconditional: leaving it out of the
        # result makes a concurrent write a retry against the fresh object, not a 409.
        def replace(current: Obj) -> Obj:  # ``current`` is a copy of its own: see Mutation
            if subresource == "status":
                current["status"] = copy_json(new.get("status", {}))
                current["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion", "")
                return current
            out = copy_json(new)  # ``new`` serves every retry: each gets its own copy
            if rt.has_status:
                keep_status(rt, out, current)
            return out

        result = await self.guaranteed_update(
            rt, namespace, name, replace, opts, subresource=subresource
        )
        result.warnings = warnings + result.warnings
        return result

    async def guaranteed_update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        mutate: Mutation,
        opts: WriteOptions,
        *,
        on_missing: Callable[[], Awaitable[WriteResult]] | None = None,
        check_update: bool = True,
        subresource: str = "",
    ) -> WriteResult:
        key = rt.storage_key(namespace, name)
        strategy = strategy_of(rt)
        for _ in range(_MAX_RETRIES):
            warnings: list[str] = []
            kv = await self.store.get(key)
            if kv is None:
                if on_missing is not None:
                    return await on_missing()
                raise not_found(rt, name)
            current = strategy.for_read(decode(kv))
            new = mutate(copy_json(current))
            wanted_rv = str(metadata_of(new).get("resourceVersion") or "")
            if wanted_rv and wanted_rv != str(kv.mod_revision):
                raise conflict(rt, name)
            new.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
            new["metadata"]["name"] = name
            if rt.namespaced:
                new["metadata"]["namespace"] = namespace
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            objectmeta.carry_over(
                new, current, has_generation=rt.has_generation, status_apart=rt.has_status
            )
            new = strategy.default(new)
            if rt.kind == "Service" and not rt.group:
                services.drop_type_dependent_fields(new, current)
            if not opts.apply:
                managedfields.record_write(rt, current, new, opts.field_manager, subresource)
            # A stale value (an old key, or plaintext) is rewritten even when unchanged.
            if objectmeta.same_content(new, current) and not kv.stale:
                return WriteResult(current)
            admission = self._admission(rt)
            if admission is not None:
                request = AdmissionRequest(
                    "UPDATE", rt, namespace, name, new, current, opts, subresource
                )
                new = await self._mutate(admission, request, warnings)
            self._validate(rt, new, current if check_update else None)
            if admission is not None:
                request = AdmissionRequest(
                    "UPDATE", rt, namespace, name, new, current, opts, subresource
                )
                warnings += await admission.validate(request)
            # the stored result, whatever was sent
            data = check_encoded_size(encode(strategy.for_storage(new)))
            if opts.dry_run:
                return WriteResult(new, warnings)
            if _finalized(new):
                return WriteResult(await self._remove(rt, key, kv, current), warnings)
            taken: list[tuple[str, Any]] = []
            if rt.kind == "Service" and not rt.group:
                taken = await services.allocate_service(self.alloc, new, current)
                data = encode(strategy.for_storage(new))  # with the addresses and ports allocated
            try:
                revision = await self.store.update(key, data, kv.mod_revision)
            except RevisionMismatch:
                await services.release(self.alloc, taken)
                if wanted_rv:
                    raise conflict(rt, name) from None
                continue
            except KeyNotFound:
                await services.release(self.alloc, taken)
                raise not_found(rt, name) from None
            if rt.kind == "Service" and not rt.group:
                kept = set(services.held_addresses(new))
                await services.release(
                    self.alloc, [a for a in services.held_addresses(current) if a not in kept]
                )
            new["metadata"]["resourceVersion"] = str(revision)
            return WriteResult(new, warnings)
        raise errors.Conflict(f'too many concurrent writers to {rt.group_resource} "{name}"')

    # -- delete --------------------------------------------------------------

    async def delete(
        self, rt: ResourceType, namespace: str, name: str, options: Obj, opts: WriteOptions
    ) -> tuple[Obj, bool]:
        """Delete (or start deleting); returns the object and whether it is gone already."""
        if rt.kind == "Namespace" and name in PROTECTED_NAMESPACES:
            raise errors.Forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted'
            )
        key = rt.storage_key(namespace, name)
        policy = options.get("propagationPolicy") or ""
        grace = options.get("gracePeriodSeconds")
        pre = options.get("preconditions") or {}
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise not_found(rt, name)
            current = decode(kv)
            meta = current["metadata"]
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.Conflict(
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in object "
                    f"meta: {meta.get('uid')}"
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise conflict(rt, name)
            admission = self._admission(rt)
            if admission is not None:
                request = AdmissionRequest("DELETE", rt, namespace, name, None, current, opts)
                await admission.mutate(request)
                await admission.validate(request)
            new = copy_json(current)
            nmeta = new["metadata"]
            finalizers = list(nmeta.get("finalizers") or [])
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if is_definition(rt) and CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CLEANUP_FINALIZER)  # the definition controller removes it
            if finalizers:
                nmeta["finalizers"] = finalizers
            pending = bool(finalizers)
            if rt.kind == "Namespace":
                pending = True
                new.setdefault("status", {})["phase"] = "Terminating"
            graceful = _pod_grace(rt, current, grace)
            if not pending and graceful == 0:
                if opts.dry_run:
                    return current, True
                try:
                    return await self._remove(rt, key, kv, current), True
                except errors.Conflict:
                    continue  # written meanwhile (a status): read it again, as Kubernetes does
            if not nmeta.get("deletionTimestamp"):
                # a grace period beyond what a date can hold (any int64 is accepted) is a century
                when = datetime.now(UTC) + timedelta(seconds=min(graceful, _CENTURY))
                nmeta["deletionTimestamp"] = objectmeta.now_rfc3339(when)
                nmeta["deletionGracePeriodSeconds"] = graceful
            elif graceful < int(nmeta.get("deletionGracePeriodSeconds") or 0):
                nmeta["deletionGracePeriodSeconds"] = graceful
            if objectmeta.same_content(new, current) or opts.dry_run:
                return new, False
            try:
                revision = await self.store.update(key, encode(new), kv.mod_revision)
            except (RevisionMismatch, KeyNotFound):
                continue
            nmeta["resourceVersion"] = str(revision)
            return new, False
        raise errors.Conflict(f'too many concurrent writers to {rt.group_resource} "{name}"')

    async def _remove(self, rt: ResourceType, key: str, kv: KeyValue, current: Obj) -> Obj:
        try:
            revision, _ = await self.store.delete(key, kv.mod_revision)
        except RevisionMismatch:
            raise conflict(rt, current["metadata"]["name"]) from None
        except KeyNotFound:
            raise not_found(rt, current["metadata"]["name"]) from None
        if rt.kind == "Service" and not rt.group:
            await services.release(self.alloc, services.held_addresses(current))
        current["metadata"]["resourceVersion"] = str(revision)
        return current


def check_unknown_fields(
    rt: ResourceType, obj: Obj, opts: WriteOptions, before: Obj | None = None
) -> list[str]:
    """Warnings for fields our schema does not know (400 under Strict).

    With ``before`` (a patch), only fields the write adds count: an unknown
    field already stored is not the client's doing this time.
    """
    strategy = strategy_of(rt)
    if opts.field_validation == "Ignore":
        if rt.storage_version:  # a custom kind is pruned whatever the level: Ignore only hushes
            strategy.unknown_fields(obj)
        return []
    unknown = strategy.unknown_fields(obj)
    if before is not None and unknown:
        known_before = set(strategy.unknown_fields(copy_json(before)))
        unknown = [f for f in unknown if f not in known_before]
    if not unknown:
        return []
    if opts.field_validation == "Strict":
        listed = ", ".join(f'unknown field "{f}"' for f in unknown)
        if rt.storage_version:  # a custom kind: Kubernetes names the kind and version first
            raise errors.BadRequest(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {listed}"
            )
        raise errors.BadRequest(f"strict decoding error: {listed}")
    return [f'unknown field "{f}"' for f in unknown]


def is_definition(rt: ResourceType) -> bool:
    return rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition"


def keep_status(rt: ResourceType, new: Obj, current: Obj) -> None:
    """A write to the main resource keeps the stored status.

    A custom object without one stays without (Kubernetes' unstructured
    strategy); a built-in one gets ``{}``, as a Go struct is always written.
    """
    if "status" in current or not rt.storage_version:
        new["status"] = current.get("status", {})
    else:
        new.pop("status", None)


def _finalized(obj: Obj) -> bool:
    """An object waiting for finalizers goes once the last one is removed."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if obj.get("kind") == "Namespace" and obj.get("spec", {}).get("finalizers"):
        return False
    return int(meta.get("deletionGracePeriodSeconds") or 0) == 0


_CENTURY = 100 * 365 * 86400


def _pod_grace(rt: ResourceType, pod: Obj, requested: Any) -> int:
    """Seconds of graceful termination: only pods bound to a node get any."""
    if rt.kind != "Pod" or rt.group:
        return 0
    if not pod.get("spec", {}).get("nodeName"):
        return 0
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, int(requested))
    return int(pod.get("spec", {}).get("terminationGracePeriodSeconds", 30))


def reset_status_on_create(rt: ResourceType, obj: Obj) -> None:
    """Kinds whose status is written by controllers start with the status they expect."""
    if rt.group == "" and rt.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(_dict(obj.get("spec")))}
    elif rt.group == "" and rt.kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    elif rt.group == "" and rt.kind == "Service":
        obj["status"] = {"loadBalancer": {}}
    elif rt.group == "" and rt.kind == "PersistentVolumeClaim":
        obj["status"] = {"phase": "Pending"}
    elif rt.group == "apps" and rt.kind == "ReplicaSet":
        obj["status"] = {"replicas": 0}
    elif rt.group in ("apps", "batch"):
        obj["status"] = {}
    elif rt.group == "autoscaling" and rt.kind == "HorizontalPodAutoscaler":
        obj["status"] = {"currentReplicas": 0, "desiredReplicas": 0}
    elif is_definition(rt):
        storage = [
            v.get("name")
            for v in (obj.get("spec") or {}).get("versions") or []
            if isinstance(v, dict) and v.get("storage") is True
        ]
        obj["status"] = {
            "conditions": [],
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": storage[:1],
        }
    elif rt.storage_version and rt.has_status:  # a custom kind: status comes via /status only
        obj.pop("status", None)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def qos_class(spec: Obj) -> str:
    # runs before validation: a field of the wrong type is validation's to refuse, not a crash
    containers = [
        c
        for key in ("containers", "initContainers")
        if isinstance(spec.get(key), list)
        for c in spec[key]
        if isinstance(c, dict)
    ]
    any_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = _dict(c.get("resources"))
        limits, requests = _dict(res.get("limits")), _dict(res.get("requests"))
        if limits or requests:
            any_set = True
        for resource in ("cpu", "memory"):
            limit = limits.get(resource)
            if limit is None or str(requests.get(resource, limit)) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def matches(obj: Obj, labels: LabelSelector | None, fields: FieldSelector | None) -> bool:
    if labels is not None and not labels.matches(labels_of(obj)):
        return False
    return fields is None or fields.matches(obj)


def not_found(rt: ResourceType, name: str) -> errors.NotFound:
    return errors.NotFound(
        f'{rt.group_resource} "{name}" not found',
        details={"name": name, "group": rt.group, "kind": rt.plural},
    )


def conflict(rt: ResourceType, name: str) -> errors.Conflict:
    return errors.Conflict(
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details={"name": name, "group": rt.group, "kind": rt.plural},
    )


def _already_exists(rt: ResourceType, name: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(
        f'{rt.group_resource} "{name}" already exists',
        details={"name": name, "group": rt.group, "kind": rt.plural},
    )
