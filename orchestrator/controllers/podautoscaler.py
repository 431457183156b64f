"""The horizontal pod autoscaler: sets a target's replicas from its pods' resource usage.

Every ``sync_period`` (and at once when an HPA's spec changes), for each
autoscaling/v2 HorizontalPodAutoscaler, as Kubernetes' controller does:

1. read the target's ``scale`` subresource (any kind that has one: a
   built-in, or a custom kind found through discovery);
2. unless the target is at zero (autoscaling disabled) or outside
   min/max (brought back inside), ask each metric for a proposal: the
   target's pods (by the Scale's ``status.selector``, from the shared pod
   cache), their usage from ``metrics.k8s.io`` (``podautoscaler_metrics``),
   the replica calculator (``podautoscaler_replicas``); the largest
   proposal wins. If every metric failed, or some failed and the rest would
   scale down, nothing changes and the first failure is reported;
3. normalize (``podautoscaler_behavior``): stabilization window, rate
   limits, min/max;
4. write the new count to the scale subresource, then the HPA's status
   (current/desired replicas, current metrics, lastScaleTime, conditions
   AbleToScale / ScalingActive / ScalingLimited with Kubernetes' reasons),
   and Events: ``SuccessfulRescale`` "New size: 3; reason: cpu resource
   utilization (percentage of request) above target", and the failures
   (``FailedGetScale``, ``FailedGetResourceMetric``,
   ``FailedComputeMetricsReplicas``, ``FailedRescale``).

The recommendations and scale events behind stabilization and rate limits
are kept in memory per HPA uid (as Kubernetes keeps them); a restarted
controller starts them afresh from the current count.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.api import errors
from orchestrator.api.conditions import Condition, find_condition, updated_condition
from orchestrator.api.objects import Obj
from orchestrator.api.quantity import QuantityError, to_milli
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType, ResourceTypes
from orchestrator.api.selectors import SelectorError, parse_label_selector
from orchestrator.api.timestamps import rfc3339
from orchestrator.client.context import ControllerContext
from orchestrator.client.discovery import discover_types
from orchestrator.client.informer import Handler, object_key
from orchestrator.client.rest import resource_path
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import process_queue
from orchestrator.controllers.podautoscaler_behavior import (
    History,
    legacy,
    record_scale,
    with_behavior,
)
from orchestrator.controllers.podautoscaler_metrics import APIResourceMetrics, ResourceMetrics
from orchestrator.controllers.podautoscaler_replicas import (
    CalculatorSettings,
    MetricError,
    PodSample,
    average_value_replicas,
    utilization_replicas,
)

log = logging.getLogger(__name__)
HPAS = BUILTIN_TYPES.versions_of("autoscaling", "horizontalpodautoscalers")[0]
PODS = BUILTIN_TYPES.require("", "Pod")
SCALE_EVENTS_KEPT = 1800.0  # seconds: the longest policy period Kubernetes allows


@dataclass(frozen=True)
class HPASettings:
    sync_period: float = 15.0  # Kubernetes' --horizontal-pod-autoscaler-sync-period
    downscale_stabilization: float = (
        300.0  # its --horizontal-pod-autoscaler-downscale-stabilization
    )
    calculator: CalculatorSettings = field(default_factory=CalculatorSettings)


@dataclass
class _Pass:
    """What one reconcile learns, for the status it writes."""

    conditions: list[Condition]
    now: datetime
    metrics: list[Obj] = field(default_factory=list)

    def set(self, type_: str, ok: bool, reason: str, message: str) -> None:
        wanted: Condition = {
            "type": type_,
            "status": "True" if ok else "False",
            "lastTransitionTime": rfc3339(self.now),
            "reason": reason,
            "message": message,
        }
        current = find_condition(self.conditions, type_)
        new = updated_condition(current, wanted)
        if current is None:
            self.conditions.append(new)
        else:
            self.conditions = [new if c is current else c for c in self.conditions]


class HorizontalPodAutoscalerController:
    name = "horizontalpodautoscaling"

    def __init__(
        self,
        ctx: ControllerContext,
        settings: HPASettings | None = None,
        metrics: ResourceMetrics | None = None,
    ) -> None:
        self.ctx = ctx
        self.settings = settings or HPASettings()
        self.metrics = metrics or APIResourceMetrics(ctx.client)
        self.queue = WorkQueue(ctx.backoff, name="horizontalpodautoscaler")
        self.hpas = ctx.informers.informer(HPAS)
        self.pods = ctx.informers.informer(PODS)
        self.history: dict[str, History] = {}
        self.discovered: ResourceTypes | None = None
        self.hpas.add_handler(
            Handler(
                on_add=lambda obj: self.queue.add(object_key(obj)),
                on_update=self._on_update,
                on_delete=lambda obj: self.queue.add(object_key(obj)),
            )
        )

    def _on_update(self, old: Obj, new: Obj) -> None:
        # Our own status writes do not count: the next look is ``sync_period`` away.
        if old.get("spec") != new.get("spec"):
            self.queue.add(object_key(new))

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    async def reconcile(self, key: str) -> float | None:
        hpa = self.hpas.get(key)
        if hpa is None or hpa["metadata"].get("deletionTimestamp"):
            alive = {o["metadata"].get("uid") for o in self.hpas.list()}
            self.history = {uid: h for uid, h in self.history.items() if uid in alive}
            return None
        await self._autoscale(hpa)
        return self.settings.sync_period

    # -- one pass ------------------------------------------------------------

    async def _autoscale(self, hpa: Obj) -> None:
        now = self.ctx.clock()
        meta, spec = hpa["metadata"], hpa.get("spec") or {}
        namespace = meta.get("namespace", "")
        status = hpa.get("status") or {}
        state = _Pass(copy.deepcopy(status.get("conditions") or []), now)
        ref = spec.get("scaleTargetRef") or {}
        history = self.history.setdefault(meta.get("uid", ""), History())
        try:
            rt = await self._target_type(ref)
            path = resource_path(rt, namespace, str(ref.get("name", "")), "scale")
            scale = (await self.ctx.client.request("GET", path)).json()
        except (errors.APIError, LookupError) as exc:
            message = str(exc)
            self._event(hpa, "Warning", "FailedGetScale", message)
            state.set(
                "AbleToScale",
                False,
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {message}",
            )
            await self._write_status(hpa, state, status.get("currentReplicas") or 0, None, False)
            return
        state.set(
            "AbleToScale",
            True,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        if not history.recommendations:
            history.recommendations.append((now, current))
        low = int(spec.get("minReplicas") or 1)
        high = int(spec.get("maxReplicas") or 0)
        desired, reason, rescale = 0, "", True
        if current == 0 and low != 0:
            rescale = False
            state.set(
                "ScalingActive",
                False,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif current < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal, metric_name, failure = await self._compute(hpa, scale, current, state)
            if proposal < 0:
                await self._write_status(hpa, state, current, None, False)
                self._event(hpa, "Warning", "FailedComputeMetricsReplicas", failure)
                return
            desired = proposal
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            behavior = spec.get("behavior")
            if isinstance(behavior, dict):
                decision = with_behavior(
                    behavior,
                    history,
                    now,
                    current=current,
                    desired=desired,
                    low=low,
                    high=high,
                    default_down_window=self.settings.downscale_stabilization,
                )
            else:
                decision = legacy(
                    history,
                    now,
                    current=current,
                    desired=desired,
                    low=low,
                    high=high,
                    down_window=self.settings.downscale_stabilization,
                )
            state.set("AbleToScale", True, *decision.able)
            state.set("ScalingLimited", *decision.limited)
            desired = decision.replicas
            rescale = desired != current
        if rescale:
            body = copy.deepcopy(scale)
            body.setdefault("spec", {})["replicas"] = desired
            try:
                await self.ctx.client.request("PUT", path, json_body=body)
            except errors.APIError as exc:
                self._event(
                    hpa,
                    "Warning",
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {exc}",
                )
                state.set(
                    "AbleToScale",
                    False,
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {exc}",
                )
                await self._write_status(hpa, state, current, None, False)
                return
            state.set(
                "AbleToScale",
                True,
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self._event(
                hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}"
            )
            record_scale(history, now, current, desired, SCALE_EVENTS_KEPT)
        await self._write_status(hpa, state, current, desired, rescale)

    async def _compute(
        self, hpa: Obj, scale: Obj, current: int, state: _Pass
    ) -> tuple[int, str, str]:
        """(largest proposal or -1, its metric's name, the failure message)."""
        selector_text = str((scale.get("status") or {}).get("selector") or "")
        if not selector_text:
            self._event(hpa, "Warning", "SelectorRequired", "selector is required")
            state.set(
                "ScalingActive",
                False,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            )
            return -1, "", "selector is required"
        try:
            selector = parse_label_selector(selector_text)
        except SelectorError as exc:
            message = (
                f"couldn't convert selector into a corresponding internal selector object: {exc}"
            )
            self._event(hpa, "Warning", "InvalidSelector", message)
            state.set("ScalingActive", False, "InvalidSelector", message)
            return -1, "", message
        namespace = hpa["metadata"].get("namespace", "")
        pods = [
            p for p in self.pods.list(namespace) if selector.matches(p["metadata"].get("labels"))
        ]
        specs = (hpa.get("spec") or {}).get("metrics") or []
        best, best_name = 0, ""
        failures: list[tuple[str, str]] = []
        for metric in specs:
            try:
                proposal, name, metric_status = await self._resource_proposal(
                    metric, namespace, selector_text, current, pods, state.now
                )
            except MetricError as exc:
                failures.append(self._metric_failure(hpa, metric, str(exc)))
                state.metrics.append({"type": ""})
                continue
            state.metrics.append(metric_status)
            if best == 0 or proposal > best:
                best, best_name = proposal, name
        if failures and (len(failures) >= len(specs) or best < current):
            reason, message = failures[0]
            state.set(
                "ScalingActive",
                False,
                reason,
                f"the HPA was unable to compute the replica count: {message}",
            )
            return (
                -1,
                "",
                f"invalid metrics ({len(failures)} invalid out of {len(specs)}), "
                f"first error is: {message}",
            )
        state.set(
            "ScalingActive",
            True,
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {best_name}",
        )
        return best, best_name, ""

    def _metric_failure(self, hpa: Obj, metric: Obj, message: str) -> tuple[str, str]:
        reason = {
            "Resource": "FailedGetResourceMetric",
            "ContainerResource": "FailedGetContainerResourceMetric",
            "Pods": "FailedGetPodsMetric",
            "Object": "FailedGetObjectMetric",
            "External": "FailedGetExternalMetric",
        }.get(str(metric.get("type")), "InvalidMetricSourceType")
        self._event(hpa, "Warning", reason, message)
        return reason, message

    async def _resource_proposal(
        self,
        metric: Obj,
        namespace: str,
        selector: str,
        current: int,
        pods: list[Obj],
        now: datetime,
    ) -> tuple[int, str, Obj]:
        """A Resource or ContainerResource metric's proposal, its name and its status entry."""
        kind = metric.get("type")
        key = {"Resource": "resource", "ContainerResource": "containerResource"}.get(str(kind))
        if key is None or not isinstance(metric.get(key), dict):
            raise MetricError(
                f"unsupported metric source type {kind!r}: only Resource and ContainerResource "
                "metrics are served here"
            )
        source = metric[key]
        resource = str(source.get("name", ""))
        container = str(source.get("container", "")) if key == "containerResource" else ""
        what = f"{resource} container resource" if container else f"{resource} resource"
        target = source.get("target") or {}
        settings = self.settings.calculator

        async def samples() -> dict[str, PodSample]:
            try:
                return await self.metrics.pod_samples(namespace, selector, resource, container)
            except MetricError as exc:
                raise MetricError(f"unable to get metrics for resource {resource}: {exc}") from None

        if target.get("averageValue") is not None:
            try:
                proposal = average_value_replicas(
                    current,
                    to_milli(target["averageValue"]),
                    resource,
                    pods,
                    await samples(),
                    now,
                    settings,
                )
            except (MetricError, QuantityError) as exc:
                raise MetricError(f"failed to get {resource} usage: {exc}") from None
            current_value: Obj = {"averageValue": _milli_quantity(proposal.raw)}
            name = what
        elif target.get("averageUtilization") is not None:
            try:
                proposal = utilization_replicas(
                    current,
                    int(target["averageUtilization"]),
                    resource,
                    pods,
                    await samples(),
                    now,
                    settings,
                    container=container,
                )
            except MetricError as exc:
                raise MetricError(f"failed to get {resource} utilization: {exc}") from None
            current_value = {
                "averageUtilization": proposal.utilization,
                "averageValue": _milli_quantity(proposal.raw),
            }
            name = f"{what} utilization (percentage of request)"
        else:
            raise MetricError(
                "invalid resource metric source: neither an average utilization target nor an "
                "average value (usage) target was set"
            )
        entry: Obj = {"name": resource, "current": current_value}
        if container:
            entry = {"name": resource, "container": container, "current": current_value}
        return proposal.replicas, name, {"type": kind, key: entry}

    # -- writing -------------------------------------------------------------

    async def _write_status(
        self, hpa: Obj, state: _Pass, current: int, desired: int | None, rescaled: bool
    ) -> None:
        old = hpa.get("status") or {}
        status: Obj = {
            "observedGeneration": hpa["metadata"].get("generation"),
            "currentReplicas": current,
            "desiredReplicas": old.get("desiredReplicas", 0) if desired is None else desired,
        }
        last = rfc3339(state.now) if rescaled else old.get("lastScaleTime")
        if last:
            status["lastScaleTime"] = last
        metrics = [m for m in state.metrics if m.get("type")]
        if metrics:
            status["currentMetrics"] = metrics
        elif desired is None and old.get("currentMetrics"):
            status["currentMetrics"] = old["currentMetrics"]
        status["conditions"] = state.conditions
        if status == old:
            return
        body = copy.deepcopy(hpa)
        body["status"] = status
        try:
            await self.ctx.client.replace(
                HPAS, body, hpa["metadata"]["namespace"], subresource="status"
            )
        except errors.Conflict:
            log.info(
                "hpa %s changed meanwhile; its status is written on the next pass", object_key(hpa)
            )

    def _event(self, hpa: Obj, type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.record(hpa, type_, reason, message)

    async def _target_type(self, ref: Obj) -> ResourceType:
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        rt = _find(self.ctx.client.types, api_version, kind)
        if rt is None:
            if self.discovered is None or _find(self.discovered, api_version, kind) is None:
                self.discovered = await discover_types(self.ctx.client)
            rt = _find(self.discovered, api_version, kind)
        if rt is None or "scale" not in rt.subresources:
            group = api_version.rpartition("/")[0]
            raise LookupError(
                "unable to determine resource for scale target reference: "
                f'no matches for kind "{kind}" in group "{group}"'
            )
        return rt


def _find(types: ResourceTypes, api_version: str, kind: str) -> ResourceType | None:
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if not api_version and kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        group = "apps"  # kubectl autoscale 1.27 writes the reference without an apiVersion at times
    return types.by_group_kind(group, kind)


def _milli_quantity(milli: int) -> str:
    """A quantity from thousandths, as Kubernetes' NewMilliQuantity prints it."""
    if milli % 1000 == 0:
        return str(milli // 1000)
    return f"{milli}m"
