"""``paas scheduler``: the scheduler as its own process.

With ``--leader-elect`` (the default) it first takes the Lease
``kube-system/paas-scheduler``, so that several copies can run and one acts;
the others wait and take over within the lease duration when it dies. If the
leader cannot renew in time it stops at once and exits 1 (its supervisor
restarts it, and it becomes a candidate again): acting without the lease
could bind pods alongside the new leader. SIGTERM or SIGINT stops it cleanly,
giving the lease up so that a successor need not wait it out; exit 0.
A broken loop (the scheduler's TaskGroup failing) also exits non-zero.

Flags are read here and passed down as settings; nothing below reads the
environment (``$KUBECONFIG`` is read here, as kubectl does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from pathlib import Path

from orchestrator.client.config import ClientConfig, ConfigError, load_kubeconfig
from orchestrator.client.events import EventRecorder
from orchestrator.client.leader import LeaderElector, LeaderSettings, LostLeadership
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.controllers.base import ControllerContext, run_controllers
from orchestrator.scheduler.scheduler import Scheduler, SchedulerSettings
from paas.cli.session import default_kubeconfig

log = logging.getLogger("paas.scheduler")
LEASE_NAME = "paas-scheduler"
LEASE_NAMESPACE = "kube-system"


def add_scheduler_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("scheduler", help="run the scheduler alone")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    leader = LeaderSettings()
    defaults = SchedulerSettings()
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="kubeconfig file (default: $KUBECONFIG, else ~/.paas/kubeconfig)",
    )
    p.add_argument("--context", default="", help="kubeconfig context to use")
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"hold the Lease {LEASE_NAMESPACE}/{LEASE_NAME} before scheduling (default: on)",
    )
    p.add_argument(
        "--leader-elect-lease-duration",
        type=float,
        default=leader.lease_duration,
        help="seconds a silent leader keeps the lease",
    )
    p.add_argument(
        "--leader-elect-renew-deadline",
        type=float,
        default=leader.renew_deadline,
        help="seconds the leader may fail to renew before it stops",
    )
    p.add_argument(
        "--leader-elect-retry-period",
        type=float,
        default=leader.retry_period,
        help="seconds between attempts to take or renew the lease",
    )
    p.add_argument(
        "--parallelism",
        type=int,
        default=defaults.parallelism,
        help="pods being bound at once",
    )
    p.set_defaults(func=run_scheduler)


def run_scheduler(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s"
    )
    path = (args.kubeconfig or default_kubeconfig()).expanduser()
    try:
        config = load_kubeconfig(path, args.context)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    leader = (
        LeaderSettings(
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        )
        if args.leader_elect
        else None
    )
    settings = SchedulerSettings(parallelism=args.parallelism)
    return asyncio.run(serve_scheduler(config, settings, leader))


async def serve_scheduler(
    config: ClientConfig, settings: SchedulerSettings, leader: LeaderSettings | None
) -> int:
    """Run until a signal (0), lost leadership (1) or a failure (1)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with APIClient(config) as client:
        elector = (
            LeaderElector(client, LEASE_NAME, namespace=LEASE_NAMESPACE, settings=leader)
            if leader is not None
            else None
        )
        work = asyncio.create_task(_lead_and_schedule(client, settings, elector))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            stopping.cancel()
            exc = work.exception()
            if _lost_leadership(exc):
                log.error("lost leadership: exiting so that the new leader acts alone")
            else:
                log.error("the scheduler stopped: %r", exc)
            return 1  # the loops never end on their own
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        if elector is not None:
            await elector.release()
        log.info("stopped")
        return 0


async def _lead_and_schedule(
    client: APIClient, settings: SchedulerSettings, elector: LeaderElector | None
) -> None:
    if elector is not None:
        log.info("waiting for the lease %s/%s as %s", LEASE_NAMESPACE, LEASE_NAME, elector.identity)
        await elector.acquire()
        log.info("leading: scheduling")
    ctx = ControllerContext(
        client=client,
        informers=SharedInformers(client),
        recorder=EventRecorder(client, settings.scheduler_name, socket.gethostname()),
    )
    scheduler = Scheduler(ctx, settings)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(run_controllers(ctx, [scheduler]), name="scheduler")
        if elector is not None:
            tg.create_task(elector.hold(), name="leader-election")


def _lost_leadership(exc: BaseException | None) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(LostLeadership) is not None
    return isinstance(exc, LostLeadership)


def main(argv: list[str] | None = None) -> int:
    """``python -m paas.cli.scheduler``: the same command without the ``paas`` front."""
    parser = argparse.ArgumentParser(prog="paas scheduler")
    configure_parser(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
