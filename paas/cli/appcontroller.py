"""``paas app-controller``: the App controller (``paas.apps``) as its own process.

It deploys each App's branches from their successful Builds (a Knative
Service, the HTTPRoute of the branch's host, release Jobs) and holds the Lease
``kube-system/paas-app-controller`` while it acts, like the
controller-manager (``paas.cli.control``). The builder reads that Lease to
know whether a push should wait for its deploy.
"""

from __future__ import annotations

import argparse

from paas.apps.controller import AppController
from paas.apps.settings import AppControllerSettings
from paas.cli.control import Component, add_control_flags, run_component

COMPONENT = Component(name="app-controller", lease="paas-app-controller")


def add_app_controller_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    d = AppControllerSettings()
    p = sub.add_parser("app-controller", help="run the App controller (git push deploys)")
    add_control_flags(p, COMPONENT)
    p.add_argument("--domain", default=d.domain, help="apps are served at <app>.<domain>")
    p.add_argument("--http-port", type=int, default=d.http_port, help="the router's port")
    p.add_argument(
        "--progress-deadline",
        type=int,
        default=d.progress_deadline,
        help="seconds a new revision may take to become ready before its deploy fails",
    )
    p.add_argument(
        "--release-timeout",
        type=int,
        default=d.release_timeout,
        help="seconds a release command may run",
    )
    p.set_defaults(func=run_app_controller)


def run_app_controller(args: argparse.Namespace) -> int:
    settings = AppControllerSettings(
        domain=args.domain,
        http_port=args.http_port,
        progress_deadline=args.progress_deadline,
        release_timeout=args.release_timeout,
    )
    return run_component(COMPONENT, args, lambda ctx: [AppController(ctx, settings)])
