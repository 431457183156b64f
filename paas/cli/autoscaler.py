"""``paas autoscaler``: scale Knative revisions on the load the routers see, to and from zero.

Leader-elected like the other controllers (Lease
``kube-system/paas-autoscaler``): two autoscalers deciding at once would
fight over the same Deployments. The windows, grace periods and tick are
flags, so tests and impatient users shorten them (Knative's stock values
are the defaults).
"""

from __future__ import annotations

import argparse

from paas.autoscaler.controller import Autoscaler
from paas.autoscaler.settings import AutoscalerSettings
from paas.cli.control import Component, add_control_flags, run_component

COMPONENT = Component(name="autoscaler", lease="paas-autoscaler")


def add_autoscaler_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    d = AutoscalerSettings()
    p = sub.add_parser("autoscaler", help="scale Knative revisions on load, to and from zero")
    add_control_flags(p, COMPONENT)
    p.add_argument("--tick", type=float, default=d.tick, help="seconds between decisions")
    p.add_argument(
        "--stable-window", type=float, default=d.stable_window, help="seconds of load averaged"
    )
    p.add_argument(
        "--scale-to-zero-grace-period",
        type=float,
        default=d.scale_to_zero_grace_period,
        help="seconds an idle revision keeps its last pod",
    )
    p.add_argument(
        "--enable-scale-to-zero",
        action=argparse.BooleanOptionalAction,
        default=d.enable_scale_to_zero,
        help="let idle revisions go to zero pods (default: on)",
    )
    p.set_defaults(func=run_autoscaler)


def run_autoscaler(args: argparse.Namespace) -> int:
    settings = AutoscalerSettings(
        tick=args.tick,
        stable_window=args.stable_window,
        scale_to_zero_grace_period=args.scale_to_zero_grace_period,
        enable_scale_to_zero=args.enable_scale_to_zero,
    )
    return run_component(COMPONENT, args, lambda ctx: [Autoscaler(ctx, settings)])
