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
    p.set_defaults(func=run_controller_manager)


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
    )
    return run_component(COMPONENT, args, lambda ctx: build_controllers(ctx, settings))
