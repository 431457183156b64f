"""``paas controller-manager``: every built-in controller as one process.

It holds the Lease ``kube-system/paas-controller-manager`` while it acts
(see ``paas.cli.control`` for what happens on losing it or on a signal).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.controllers.garbagecollector import GCSettings
from orchestrator.controllers.manager import (
    CONTROLLER_NAMES,
    ControllerManagerSettings,
    build_controllers,
)
from orchestrator.controllers.namespace import NamespaceSettings
from orchestrator.controllers.nodeipam import NodeIPAMSettings
from orchestrator.controllers.podautoscaler import HPASettings
from orchestrator.controllers.podautoscaler_replicas import CalculatorSettings
from orchestrator.controllers.serviceaccounts import ServiceAccountsSettings
from paas.cli.control import Component, add_control_flags, run_component

COMPONENT = Component(name="controller-manager", lease="paas-controller-manager")


def add_controller_manager_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("controller-manager", help="run the built-in controllers")
    add_control_flags(p, COMPONENT)
    p.add_argument(
        "--controllers",
        default="",
        help=f"comma-separated controllers to run (default: all: {','.join(CONTROLLER_NAMES)})",
    )
    p.add_argument(
        "--cluster-cidr",
        default=NodeIPAMSettings().cluster_cidr,
        help="the range whose /24s nodes get as spec.podCIDR",
    )
    p.add_argument(
        "--discovery-interval",
        type=float,
        default=GCSettings().discovery_interval,
        help="seconds between the discovery reads by which the garbage collector and the "
        "namespace controller learn of kinds defined (or removed) at run time, as by a CRD",
    )
    p.add_argument(
        "--root-ca-file",
        type=Path,
        default=None,
        help="the cluster CA published to every namespace as ConfigMap kube-root-ca.crt "
        "(default: the CA of --kubeconfig)",
    )
    add_hpa_flags(p)
    p.set_defaults(func=run_controller_manager)


def add_hpa_flags(p: argparse.ArgumentParser) -> None:
    """The horizontal pod autoscaler's timers and tolerance (Kubernetes' flags, shorter names)."""
    hpa, calc = HPASettings(), CalculatorSettings()
    p.add_argument(
        "--hpa-sync-period",
        type=float,
        default=hpa.sync_period,
        metavar="SECONDS",
        help="seconds between two looks at each HorizontalPodAutoscaler (Kubernetes' 15 s)",
    )
    p.add_argument(
        "--hpa-downscale-stabilization",
        type=float,
        default=hpa.downscale_stabilization,
        metavar="SECONDS",
        help="an HPA without behavior scales down to the highest recommendation of this window",
    )
    p.add_argument(
        "--hpa-tolerance",
        type=float,
        default=calc.tolerance,
        help="the ratio of usage to target within which no scaling happens (0.1: 10%%)",
    )
    p.add_argument(
        "--hpa-cpu-initialization-period",
        type=float,
        default=calc.cpu_initialization_period,
        metavar="SECONDS",
        help="after a pod starts, its cpu samples count only once it is Ready for a window",
    )
    p.add_argument(
        "--hpa-initial-readiness-delay",
        type=float,
        default=calc.initial_readiness_delay,
        metavar="SECONDS",
        help="after a pod starts, readiness changes within this delay are start-up, not failure",
    )


def hpa_settings(args: argparse.Namespace) -> HPASettings:
    return HPASettings(
        sync_period=args.hpa_sync_period,
        downscale_stabilization=args.hpa_downscale_stabilization,
        calculator=CalculatorSettings(
            tolerance=args.hpa_tolerance,
            cpu_initialization_period=args.hpa_cpu_initialization_period,
            initial_readiness_delay=args.hpa_initial_readiness_delay,
        ),
    )


def run_controller_manager(args: argparse.Namespace) -> int:
    enabled = tuple(c.strip() for c in args.controllers.split(",") if c.strip())
    settings = ControllerManagerSettings(
        enabled=enabled,
        nodeipam=NodeIPAMSettings(cluster_cidr=args.cluster_cidr),
        garbagecollector=GCSettings(discovery_interval=args.discovery_interval),
        namespace=NamespaceSettings(discovery_interval=args.discovery_interval),
        serviceaccount=ServiceAccountsSettings(
            root_ca_pem=args.root_ca_file.read_text() if args.root_ca_file else ""
        ),
        horizontalpodautoscaling=hpa_settings(args),
    )
    return run_component(COMPONENT, args, lambda ctx: build_controllers(ctx, settings))
