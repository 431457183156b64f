"""The CronJob controller: creates a Job at each scheduled time.

Handlers enqueue the CronJob's key (a Job event enqueues the CronJob that
controls it). A worker plans with ``plan_cronjob`` (rules in
``cronjobplan``) from the caches and the injected clock (``ctx.clock``:
tests move time instead of waiting for a minute), then acts in this order:
delete replaced Jobs and pruned history (Background propagation, 404 taken
as done), create the scheduled Job (its name is derived from the scheduled
time, so a second create is a 409, taken as done), write status (compare-
and-swap on the cached resourceVersion; 409 re-plans), record Events. It
returns the delay to the next scheduled time, capped by ``check_interval``.

A Job listed in ``status.active`` that the Job cache does not hold is looked
up with a live GET before it is dropped, as Kubernetes does: a Job just
created may not have reached the cache, and one deleted meanwhile must not
block a Forbid CronJob forever. Schedules are in UTC (``timeZone`` other
than UTC is refused with an UnknownTimeZone Event).
"""

from __future__ import annotations

import copy
import logging

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import split_key
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import enqueue_controller, enqueue_self, process_queue
from orchestrator.controllers.cronjobplan import CronJobSettings, job_reference, plan_cronjob
from orchestrator.controllers.ownership import controller_of, controller_uid

log = logging.getLogger(__name__)
OWNER_INDEX = "cronjob-controller-uid"


def _type(group: str, kind: str) -> ResourceType:
    rt = BUILTIN_TYPES.by_group_kind(group, kind)
    assert rt is not None
    return rt


CRONJOBS = _type("batch", "CronJob")
JOBS = _type("batch", "Job")


class CronJobController:
    name = "cronjob"

    def __init__(self, ctx: ControllerContext, settings: CronJobSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or CronJobSettings()
        self.queue = WorkQueue(ctx.backoff, name="cronjob")
        self.cronjobs = ctx.informers.informer(CRONJOBS)
        self.jobs = ctx.informers.informer(JOBS)
        self.jobs.add_index(OWNER_INDEX, lambda j: controller_uid(j, CRONJOBS.kind))
        self.cronjobs.add_handler(enqueue_self(self.queue, deletes=False))
        self.jobs.add_handler(enqueue_controller(self.queue, CRONJOBS.kind))

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    async def reconcile(self, key: str) -> float | None:
        """One step for the CronJob at ``key``; returns when to look again."""
        cronjob = self.cronjobs.get(key)
        if cronjob is None or cronjob["metadata"].get("deletionTimestamp"):
            return None
        namespace, _ = split_key(key)
        jobs = await self._owned_jobs(cronjob, namespace)
        plan = plan_cronjob(cronjob, jobs, self.ctx.clock(), self.settings)
        for name in plan.delete:
            try:
                await self.ctx.client.delete(JOBS, name, namespace, propagation_policy="Background")
            except errors.NotFound:
                continue
        status = plan.status
        if plan.create is not None:
            try:
                created = await self.ctx.client.create(JOBS, plan.create, namespace)
            except errors.AlreadyExists:
                created = await self.ctx.client.get(
                    JOBS, plan.create["metadata"]["name"], namespace
                )
            status = _with_uid(status or {}, created)
        if status is not None:
            body = copy.deepcopy(cronjob)
            body["status"] = status
            await self.ctx.client.replace(CRONJOBS, body, namespace, subresource="status")
        for event in plan.events:
            await self.ctx.recorder.emit(cronjob, event.type, event.reason, event.message)
        return plan.requeue_after

    async def _owned_jobs(self, cronjob: Obj, namespace: str) -> list[Obj]:
        uid = cronjob["metadata"]["uid"]
        jobs = {j["metadata"]["name"]: j for j in self.jobs.by_index(OWNER_INDEX, uid)}
        for ref in (cronjob.get("status") or {}).get("active") or []:
            name = ref.get("name", "")
            if not name or name in jobs:
                continue
            try:
                job = await self.ctx.client.get(JOBS, name, namespace)
            except errors.NotFound:
                continue
            owner = controller_of(job, CRONJOBS.kind)
            if owner is not None and owner.get("uid") == uid:
                jobs[name] = job
        return list(jobs.values())


def _with_uid(status: Obj, created: Obj) -> Obj:
    """The planned status with the new Job's reference completed by its uid."""
    out = copy.deepcopy(status)
    ref = job_reference(created)
    out["active"] = [ref if r.get("name") == ref["name"] else r for r in out.get("active") or []]
    return out
