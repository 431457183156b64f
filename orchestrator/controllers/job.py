"""The Job controller: runs a Job's pods to completion, within its limits.

Handlers only enqueue the Job's key (a pod event enqueues the Job that
controls it). A worker plans from the caches with ``plan_job`` (see
``jobplan`` for the rules) and carries the plan out in this order: create
pods, delete pods, write status, record Events, then returns the plan's
timer (backoff, active deadline, TTL) as the requeue delay. Every step is
idempotent: pod names are deterministic (a repeated create is a 409, taken
as done), deleting a pod that is gone is a 404, and the status write is a
compare-and-swap on the cached resourceVersion (a 409 re-plans from fresher
caches). A finished Job whose TTL has passed is deleted with Background
propagation, with the uid as a precondition, so a new Job of the same name
is never hit.

Pods carry the Job's labels (``job-name``, ``batch.kubernetes.io/controller-uid``
... which the API's defaults already put on the template) and an
ownerReference with ``controller: true``; the garbage collector removes them
with the Job. Not done yet: adopting orphan pods that match the selector,
pod tracking finalizers, Indexed completion mode, podFailurePolicy.
"""

from __future__ import annotations

import copy
import logging

from orchestrator.api import errors
from orchestrator.api.defaults import JOB_NAME_LABELS, JOB_UID_LABELS
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import split_key
from orchestrator.client.rest import resource_path
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import enqueue_controller, enqueue_self, process_queue
from orchestrator.controllers.jobplan import JobSettings, plan_job
from orchestrator.controllers.ownership import controller_uid, owner_reference

log = logging.getLogger(__name__)
OWNER_INDEX = "job-controller-uid"


def _type(group: str, kind: str) -> ResourceType:
    rt = BUILTIN_TYPES.by_group_kind(group, kind)
    assert rt is not None
    return rt


JOBS = _type("batch", "Job")
PODS = _type("", "Pod")


def build_pod(job: Obj, name: str) -> Obj:
    """A pod from the Job's template, labelled and owned by the Job."""
    meta = job["metadata"]
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = metadata_of(template)
    labels = dict(tmeta.get("labels") or {})
    for key in JOB_UID_LABELS:
        labels.setdefault(key, meta["uid"])
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, meta["name"])
    pod_meta: Obj = {
        "name": name,
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(job, JOBS.api_version, JOBS.kind)],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec")}


class JobController:
    name = "job"

    def __init__(self, ctx: ControllerContext, settings: JobSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or JobSettings()
        self.queue = WorkQueue(ctx.backoff, name="job")
        self.jobs = ctx.informers.informer(JOBS)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_index(OWNER_INDEX, lambda p: controller_uid(p, JOBS.kind))
        self.jobs.add_handler(enqueue_self(self.queue))
        self.pods.add_handler(enqueue_controller(self.queue, JOBS.kind))

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    async def reconcile(self, key: str) -> float | None:
        """One step for the Job at ``key``; returns the delay before the next look, if any."""
        job = self.jobs.get(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        namespace, _ = split_key(key)
        uid = job["metadata"]["uid"]
        pods = [p for p in self.pods.by_index(OWNER_INDEX, uid)]
        plan = plan_job(job, pods, self.ctx.clock(), self.settings)
        if plan.delete_job:
            await self._delete_job(job)
            return None
        for name in plan.create:
            try:
                await self.ctx.client.create(PODS, build_pod(job, name), namespace)
            except errors.AlreadyExists:
                continue  # an earlier pass made it; the cache had not caught up
            await self.ctx.recorder.emit(job, "Normal", "SuccessfulCreate", f"Created pod: {name}")
        for name in plan.delete:
            try:
                await self.ctx.client.delete(PODS, name, namespace)
            except errors.NotFound:
                continue
            await self.ctx.recorder.emit(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        if plan.status is not None:
            body = copy.deepcopy(job)
            body["status"] = plan.status
            await self.ctx.client.replace(JOBS, body, namespace, subresource="status")
        for event in plan.events:
            await self.ctx.recorder.emit(job, event.type, event.reason, event.message)
        return plan.requeue_after

    async def _delete_job(self, job: Obj) -> None:
        meta = job["metadata"]
        path = resource_path(JOBS, meta["namespace"], meta["name"])
        body = {"propagationPolicy": "Background", "preconditions": {"uid": meta["uid"]}}
        try:
            await self.ctx.client.request("DELETE", path, json_body=body)
        except errors.NotFound:
            return
        log.info(
            "deleted job %s/%s: its ttlSecondsAfterFinished passed", meta["namespace"], meta["name"]
        )
