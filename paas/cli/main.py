"""The ``paas`` command: one entry point, a subcommand per job.

Subcommands register themselves through ``add_*_parser`` functions in their
own modules; this module only assembles them and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import sys

from paas.cli.appcontroller import add_app_controller_parser
from paas.cli.apps import add_apps_parsers
from paas.cli.auth import add_auth_parser
from paas.cli.autoscaler import add_autoscaler_parser
from paas.cli.builder import add_builder_parser
from paas.cli.builds import add_builds_parser
from paas.cli.components import add_apiserver_parser
from paas.cli.config import add_config_parser
from paas.cli.controllermanager import add_controller_manager_parser
from paas.cli.dns import add_dns_parser
from paas.cli.node import add_node_parser
from paas.cli.podlogs import add_logs_parser
from paas.cli.proxy import add_proxy_parser
from paas.cli.resources import add_resource_parsers
from paas.cli.rollout import add_rollout_parser
from paas.cli.router import add_router_parser
from paas.cli.scheduler import add_scheduler_parser
from paas.cli.servingcontroller import add_serving_controller_parser
from paas.cli.stack import add_stack_parser
from paas.cli.tokens import add_token_parser
from paas.cli.up import add_up_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paas",
        description="A self-hosted serverless PaaS on an orchestrator of its own.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_up_parser(sub)
    add_apiserver_parser(sub)
    add_controller_manager_parser(sub)
    add_app_controller_parser(sub)
    add_serving_controller_parser(sub)
    add_autoscaler_parser(sub)
    add_scheduler_parser(sub)
    add_dns_parser(sub)
    add_router_parser(sub)
    add_node_parser(sub)
    add_proxy_parser(sub)
    add_token_parser(sub)
    add_auth_parser(sub)
    add_resource_parsers(sub)
    add_rollout_parser(sub)
    add_logs_parser(sub)
    add_stack_parser(sub)
    add_builder_parser(sub)
    add_apps_parsers(sub)
    add_builds_parser(sub)
    add_config_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
