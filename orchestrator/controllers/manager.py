"""The controller-manager: every built-in controller in one process.

Controllers share one set of informers (one watch per resource for all of
them) and one event recorder. Which ones run, and the settings of each, are
in ``ControllerManagerSettings``; the CLI fills it from flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.client.context import ControllerContext
from orchestrator.controllers.base import Controller
from orchestrator.controllers.cronjob import CronJobController
from orchestrator.controllers.cronjobplan import CronJobSettings
from orchestrator.controllers.deployment import DeploymentController, DeploymentSettings
from orchestrator.controllers.endpoints import EndpointsController
from orchestrator.controllers.garbagecollector import GarbageCollector, GCSettings
from orchestrator.controllers.job import JobController
from orchestrator.controllers.jobplan import JobSettings
from orchestrator.controllers.namespace import NamespaceController, NamespaceSettings
from orchestrator.controllers.nodeipam import NodeIPAMController, NodeIPAMSettings
from orchestrator.controllers.nodelifecycle import NodeLifecycleController, NodeLifecycleSettings
from orchestrator.controllers.podautoscaler import HorizontalPodAutoscalerController, HPASettings
from orchestrator.controllers.replicaset import ReplicaSetController, ReplicaSetSettings
from orchestrator.controllers.serviceaccounts import (
    ServiceAccountsController,
    ServiceAccountsSettings,
)


@dataclass(frozen=True)
class ControllerManagerSettings:
    enabled: tuple[str, ...] = ()  # empty = all of them
    replicaset: ReplicaSetSettings = field(default_factory=ReplicaSetSettings)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)
    nodeipam: NodeIPAMSettings = field(default_factory=NodeIPAMSettings)
    nodelifecycle: NodeLifecycleSettings = field(default_factory=NodeLifecycleSettings)
    garbagecollector: GCSettings = field(default_factory=GCSettings)
    namespace: NamespaceSettings = field(default_factory=NamespaceSettings)
    job: JobSettings = field(default_factory=JobSettings)
    cronjob: CronJobSettings = field(default_factory=CronJobSettings)
    serviceaccount: ServiceAccountsSettings = field(default_factory=ServiceAccountsSettings)
    horizontalpodautoscaling: HPASettings = field(default_factory=HPASettings)


def _factories(
    s: ControllerManagerSettings,
) -> dict[str, Callable[[ControllerContext], Controller]]:
    return {
        "replicaset": lambda ctx: ReplicaSetController(ctx, s.replicaset),
        "deployment": lambda ctx: DeploymentController(ctx, s.deployment),
        "endpoints": lambda ctx: EndpointsController(ctx),
        "nodeipam": lambda ctx: NodeIPAMController(ctx, s.nodeipam),
        "nodelifecycle": lambda ctx: NodeLifecycleController(ctx, s.nodelifecycle),
        "garbagecollector": lambda ctx: GarbageCollector(ctx, s.garbagecollector),
        "namespace": lambda ctx: NamespaceController(ctx, s.namespace),
        "job": lambda ctx: JobController(ctx, s.job),
        "cronjob": lambda ctx: CronJobController(ctx, s.cronjob),
        "serviceaccount": lambda ctx: ServiceAccountsController(ctx, s.serviceaccount),
        "horizontalpodautoscaling": lambda ctx: HorizontalPodAutoscalerController(
            ctx, s.horizontalpodautoscaling
        ),
    }


CONTROLLER_NAMES = tuple(_factories(ControllerManagerSettings()))


def build_controllers(
    ctx: ControllerContext, settings: ControllerManagerSettings
) -> list[Controller]:
    factories = _factories(settings)
    unknown = set(settings.enabled) - set(factories)
    if unknown:
        raise ValueError(
            f"unknown controllers: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(CONTROLLER_NAMES)}"
        )
    names = settings.enabled or CONTROLLER_NAMES
    return [factories[name](ctx) for name in names]
