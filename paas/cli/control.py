"""Running a control-plane process: the scheduler and the controller-manager.

Both are loops over shared informers that must act alone. With leader
election (the default) a process first takes its Lease in ``kube-system``,
so several copies can run and one acts; the others wait and take over
within the lease duration when it dies. A leader that cannot renew in time
exits 1 at once (its supervisor restarts it as a candidate): acting without
the lease could duplicate the new leader's work. SIGTERM/SIGINT stops it
cleanly and gives the lease up so a successor need not wait; exit 0. A
broken loop also exits 1. Flags are read here and passed down as settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.context import ControllerContext
from orchestrator.client.events import EventRecorder
from orchestrator.client.leader import LeaderElector, LeaderSettings, LostLeadership
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.controllers.base import Controller, run_controllers
from orchestrator.metrics.server import MetricsServerSettings
from paas.cli.logs import setup_logging
from paas.cli.metricsflags import add_metrics_flags, metrics_settings, start_metrics
from paas.cli.session import add_kubeconfig_flags, default_kubeconfig

LEASE_NAMESPACE = "kube-system"
Build = Callable[[ControllerContext], Sequence[Controller]]


@dataclass(frozen=True)
class Component:
    name: str  # for logs
    lease: str  # the Lease in kube-system that the leader holds
    event_source: str = ""  # who Events say they are from (default: the name)


def add_control_flags(p: argparse.ArgumentParser, component: Component) -> None:
    leader = LeaderSettings()
    add_kubeconfig_flags(p)
    add_metrics_flags(p)  # --metrics-port: Prometheus metrics, served by leaders and waiters
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"hold the Lease {LEASE_NAMESPACE}/{component.lease} before acting (default: on)",
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


def read_control_flags(args: argparse.Namespace) -> tuple[ClientConfig, LeaderSettings | None]:
    """The client config and leader settings the flags ask for (KubeconfigError if unusable)."""
    path = (args.kubeconfig or default_kubeconfig()).expanduser()
    config = load_kubeconfig(path, args.context)
    leader = (
        LeaderSettings(
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        )
        if args.leader_elect
        else None
    )
    return config, leader


def run_component(component: Component, args: argparse.Namespace, build: Build) -> int:
    setup_logging(component.name)
    try:
        config, leader = read_control_flags(args)
    except KubeconfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metrics = metrics_settings(args, component.name)
    return asyncio.run(serve(component, config, leader, build, metrics))


async def serve(
    component: Component,
    config: ClientConfig,
    leader: LeaderSettings | None,
    build: Build,
    metrics: MetricsServerSettings | None = None,
) -> int:
    """Run until a signal (0), lost leadership (1) or a failure (1)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with APIClient(config) as client:
        metrics_server = await start_metrics(client, metrics)
        try:
            return await _serve(component, client, leader, build, stop)
        finally:
            if metrics_server is not None:
                await metrics_server.close()


async def _serve(
    component: Component,
    client: APIClient,
    leader: LeaderSettings | None,
    build: Build,
    stop: asyncio.Event,
) -> int:
    log = logging.getLogger(f"paas.{component.name}")
    elector = (
        LeaderElector(client, component.lease, namespace=LEASE_NAMESPACE, settings=leader)
        if leader is not None
        else None
    )
    work = asyncio.create_task(_lead_and_run(component, client, elector, build))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if work.done():
        stopping.cancel()
        exc = work.exception()
        if _lost_leadership(exc):
            log.error("lost leadership: exiting so that the new leader acts alone")
        else:
            log.error("stopped on a failure: %r", exc)
        return 1
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await work
    if elector is not None:
        await elector.release()
    log.info("stopped")
    return 0


async def _lead_and_run(
    component: Component, client: APIClient, elector: LeaderElector | None, build: Build
) -> None:
    log = logging.getLogger(f"paas.{component.name}")
    if elector is not None:
        log.info(
            "waiting for the lease %s/%s as %s", LEASE_NAMESPACE, component.lease, elector.identity
        )
        await elector.acquire()
        log.info("leading")
    ctx = ControllerContext(
        client=client,
        informers=SharedInformers(client),
        recorder=EventRecorder(
            client, component.event_source or component.name, socket.gethostname()
        ),
    )
    controllers = build(ctx)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(run_controllers(ctx, controllers), name=component.name)
            if elector is not None:
                tg.create_task(elector.hold(), name="leader-election")
    finally:
        await ctx.recorder.close()


def _lost_leadership(exc: BaseException | None) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(LostLeadership) is not None
    return isinstance(exc, LostLeadership)
