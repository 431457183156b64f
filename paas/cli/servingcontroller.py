"""``paas serving-controller``: Knative's serving kinds (``paas.serving``) as their own process.

It serves the serving admission webhook (defaults and validation, registered
by the process itself with a certificate made at start) and runs the
Service, Configuration, Revision and Route loops, holding the Lease
``kube-system/paas-serving-controller`` while it acts, like the App
controller (``paas.cli.appcontroller``).
"""

from __future__ import annotations

import argparse

from paas.cli.control import Component, add_control_flags, run_component
from paas.serving.controller import serving_controllers
from paas.serving.settings import ServingSettings
from paas.serving.webhookserver import ServingWebhook, WebhookSettings

COMPONENT = Component(name="serving-controller", lease="paas-serving-controller")


def add_serving_controller_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    d, w = ServingSettings(), WebhookSettings()
    p = sub.add_parser(
        "serving-controller", help="run the Knative serving controller and its admission webhook"
    )
    add_control_flags(p, COMPONENT)
    p.add_argument("--domain", default=d.domain, help="services are served at <svc>.<ns>.<domain>")
    p.add_argument("--http-port", type=int, default=d.http_port, help="the router's port (in URLs)")
    p.add_argument("--webhook-host", default=w.host, help="the address the webhook listens on")
    p.add_argument("--webhook-port", type=int, default=w.port, help="its port (0: any free one)")
    p.add_argument(
        "--advertise-address",
        default=w.advertise_address,
        help="the IP the API server dials for the webhook (default: --webhook-host)",
    )
    p.set_defaults(func=run_serving_controller)


def run_serving_controller(args: argparse.Namespace) -> int:
    settings = ServingSettings(domain=args.domain, http_port=args.http_port)
    webhook = WebhookSettings(
        host=args.webhook_host, port=args.webhook_port, advertise_address=args.advertise_address
    )
    return run_component(
        COMPONENT,
        args,
        lambda ctx: [ServingWebhook(ctx, webhook), *serving_controllers(ctx, settings)],
    )
