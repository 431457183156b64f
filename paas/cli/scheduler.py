"""``paas scheduler``: the scheduler as its own process.

It holds the Lease ``kube-system/paas-scheduler`` while it binds pods; see
``paas.cli.control`` for what happens when it loses it or gets a signal.
"""

from __future__ import annotations

import argparse

from orchestrator.scheduler.scheduler import Scheduler, SchedulerSettings
from paas.cli.control import Component, add_control_flags, run_component

COMPONENT = Component(
    name="scheduler", lease="paas-scheduler", event_source=SchedulerSettings().scheduler_name
)


def add_scheduler_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("scheduler", help="run the scheduler alone")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    add_control_flags(p, COMPONENT)
    p.add_argument(
        "--parallelism",
        type=int,
        default=SchedulerSettings().parallelism,
        help="pods being bound at once",
    )
    p.set_defaults(func=run_scheduler)


def run_scheduler(args: argparse.Namespace) -> int:
    settings = SchedulerSettings(parallelism=args.parallelism)
    return run_component(COMPONENT, args, lambda ctx: [Scheduler(ctx, settings)])


def main(argv: list[str] | None = None) -> int:
    """``python -m paas.cli.scheduler``: the same command without the ``paas`` front."""
    parser = argparse.ArgumentParser(prog="paas scheduler")
    configure_parser(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
