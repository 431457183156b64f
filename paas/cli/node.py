"""``paas node --join URL --token TOKEN``: a node agent joining a cluster.

Only the ``simulated`` runtime exists so far: a test and benchmark tool that
registers nodes and marks their pods Running without starting anything
(``orchestrator.kubelet.simulated``). ``--count N`` runs N of them in this
one process, named ``NAME-0`` ... ``NAME-(N-1)``. The process runs until
interrupted; a stopped node is judged lost by the node lifecycle controller
after its grace period, and adopts its pods again when restarted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
from pathlib import Path

from orchestrator.client.config import ClientConfig
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.simulated import SimulatedNodeSettings, run_simulated_nodes
from paas.cli.logs import setup_logging

RUNTIMES = ("simulated",)


def add_node_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("node", help="run a node agent that joins a cluster")
    p.add_argument("--join", required=True, metavar="URL", help="the API server, https://h:p")
    p.add_argument("--token", required=True, help="a node token (paas token create --role node)")
    p.add_argument("--name", default="", help="node name (default: this host's name)")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="simulated",
        help="simulated: a test and benchmark tool that starts no processes",
    )
    p.add_argument("--count", type=int, default=1, help="simulated nodes to run in this process")
    trust = p.add_mutually_exclusive_group()
    trust.add_argument("--ca", type=Path, help="the cluster CA certificate (PEM)")
    trust.add_argument(
        "--insecure", action="store_true", help="do not verify the API server's certificate"
    )
    p.add_argument("--cpu", default="4", help="cpu capacity reported per node")
    p.add_argument("--memory", default="8Gi", help="memory capacity reported per node")
    p.add_argument("--pods", default="110", help="pod capacity reported per node")
    p.set_defaults(func=run_node)


def node_names(name: str, count: int) -> list[str]:
    base = (name or socket.gethostname()).lower()
    return [base] if count == 1 else [f"{base}-{i}" for i in range(count)]


def run_node(args: argparse.Namespace) -> int:
    setup_logging("node")
    if args.count < 1:
        raise SystemExit("paas node: --count must be at least 1")
    ca = None
    if args.ca is not None:
        try:
            ca = args.ca.expanduser().read_bytes()
        except OSError as exc:
            raise SystemExit(f"paas node: cannot read the CA file {args.ca}: {exc}") from None
    config = ClientConfig(
        server=args.join.rstrip("/"), token=args.token, ca_data=ca, insecure=args.insecure
    )
    settings = SimulatedNodeSettings(
        capacity={"cpu": args.cpu, "memory": args.memory, "pods": args.pods}
    )
    return asyncio.run(_serve(config, node_names(args.name, args.count), settings))


async def _serve(config: ClientConfig, names: list[str], settings: SimulatedNodeSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with APIClient(config) as client:
        nodes = asyncio.create_task(run_simulated_nodes(client, names, settings))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({nodes, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (nodes, stopper):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await nodes
        if nodes in done:
            with contextlib.suppress(asyncio.CancelledError):
                nodes.result()  # raise what ended it: a crash means exit non-zero
            return 1
    return 0
