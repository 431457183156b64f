"""The node agent's streaming endpoints: exec latency and port-forward throughput.

``python -m bench.streams [--execs N] [--megabytes M] [--quick] [--results FILE]``
starts a process runtime node in loopback mode (no root needed) with its
HTTPS server, and a pod whose container serves a file of M MiB with
``python3 -m http.server``. Then, alternating with its anchor so that both
see the same machine:

- exec: ``true`` run through ``GET /exec`` (TLS, WebSocket, the channel
  protocol, the Success status, the close handshake), p50 and p99. Anchor:
  the same ``supervise exec DIR -- true`` started directly as a subprocess,
  which is what the endpoint runs; the difference is the endpoint's cost.
- port-forward: the file fetched through ``GET /portForward`` (one WebSocket
  carrying one TCP connection), MB/s, best of the rounds. Anchor: the same
  fetch over a direct TCP connection to the pod's address.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.report import Figure, save_if_asked
from bench.stats import Latency
from orchestrator import pki
from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, SandboxSpec
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.runtimes.processlayout import Layout
from orchestrator.kubelet.runtimes.processspawn import PACKAGE_ROOT, supervise_argv
from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings

PORT = 18080  # the pod's own 127.x address: no clash with the host's ports
UID = "bench-streams-" + uuid.uuid4().hex[:8]


async def exec_once(http: aiohttp.ClientSession) -> float:
    started = time.perf_counter()
    query = [("command", "true"), ("output", "1"), ("error", "1")]
    async with http.ws_connect(
        "/exec/default/bench/app", params=query, protocols=("v5.channel.k8s.io",)
    ) as ws:
        async for msg in ws:
            if msg.data[0] == 3:
                assert b"Success" in msg.data, msg.data
    return time.perf_counter() - started


async def anchor_exec_once(cdir: Path) -> float:
    started = time.perf_counter()
    argv = supervise_argv(sys.executable, "exec", str(cdir), "--", "true")
    proc = await asyncio.create_subprocess_exec(*argv, env={"PYTHONPATH": PACKAGE_ROOT})
    assert await proc.wait() == 0
    return time.perf_counter() - started


REQUEST = b"GET /blob HTTP/1.0\r\nHost: bench\r\n\r\n"


async def forward_once(http: aiohttp.ClientSession, size: int) -> float:
    """MB/s of the file fetched through one port-forward WebSocket."""
    started, got = time.perf_counter(), 0
    async with http.ws_connect(
        "/portForward/default/bench", params={"port": str(PORT)}, protocols=("v4.channel.k8s.io",)
    ) as ws:
        await ws.receive_bytes()
        await ws.receive_bytes()  # the two port prefixes
        await ws.send_bytes(b"\x00" + REQUEST)
        async for msg in ws:
            assert msg.data[0] == 0, msg.data[:200]
            got += len(msg.data) - 1
    assert got > size, got
    return size / 1e6 / (time.perf_counter() - started)


async def anchor_forward_once(ip: str, size: int) -> float:
    started, got = time.perf_counter(), 0
    reader, writer = await asyncio.open_connection(ip, PORT)
    writer.write(REQUEST)
    while chunk := await reader.read(65536):
        got += len(chunk)
    writer.close()
    await writer.wait_closed()
    assert got > size, got
    return size / 1e6 / (time.perf_counter() - started)


async def run(args: argparse.Namespace, tmp: Path) -> list[Figure]:
    size = args.megabytes << 20
    served = tmp / "served"
    served.mkdir()
    (served / "blob").write_bytes(b"\0" * size)
    ca = pki.ensure_ca(tmp / "ca")
    client_cert = pki.ensure_client_cert(tmp / "ca", ca, "apiserver-kubelet-client")
    settings = ProcessRuntimeSettings(network="loopback", isolation="off")
    runtime = ProcessRuntime(tmp / "rt", f"bench-{uuid.uuid4().hex[:6]}", settings)
    await runtime.start("")
    server = KubeletServer(
        runtime, KubeletServerSettings(cert_dir=tmp / "tls", client_ca=ca.cert.read_bytes())
    )
    await server.start()
    try:
        sandbox = await runtime.run_sandbox(
            SandboxSpec(pod_uid=UID, namespace="default", name="bench", hostname="bench")
        )
        serve = (
            "import http.server as h; "
            f"h.test(h.SimpleHTTPRequestHandler, port={PORT}, bind={sandbox.ip!r})"
        )
        spec = ContainerSpec(
            pod_uid=UID, namespace="default", pod_name="bench", name="app", attempt=0,
            image=STACK_IMAGE, command=("python3", "-c", serve), working_dir=str(served),
        )  # fmt: skip
        state = await runtime.start_container(sandbox, spec)
        cdir = Layout(runtime.state_dir).container_dir(state.id)
        context = pki.pinned_context(server.cert_pem, client_cert)
        connector = aiohttp.TCPConnector(ssl=context)
        async with aiohttp.ClientSession(base_url=server.url, connector=connector) as http:
            for attempt in range(100):  # until the server answers
                try:
                    await anchor_forward_once(sandbox.ip, size)
                    break
                except OSError:
                    if attempt == 99:
                        raise
                    await asyncio.sleep(0.1)
            ours, anchor = [], []
            t0 = time.perf_counter()
            for _ in range(args.execs):
                ours.append(await exec_once(http))
                anchor.append(await anchor_exec_once(cdir))
            elapsed = time.perf_counter() - t0
            fwd, direct = [], []
            for _ in range(args.rounds):
                fwd.append(await forward_once(http, size))
                direct.append(await anchor_forward_once(sandbox.ip, size))
    finally:
        await server.close()
        await runtime.teardown()
        await runtime.close()
    lat, base = Latency.of(ours, elapsed), Latency.of(anchor, elapsed)
    print(f"exec `true` via the node's WebSocket: p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms")
    print(f"  anchor, supervise exec started directly: p50 {base.p50_ms:.1f} ms")
    print(f"port-forward of {args.megabytes} MiB: best {max(fwd):.0f} MB/s")
    print(f"  anchor, direct TCP to the pod: best {max(direct):.0f} MB/s")
    print(f"  (medians {statistics.median(fwd):.0f} vs {statistics.median(direct):.0f} MB/s)")
    exec_anchor = "supervise exec DIR -- true started directly"
    return [
        Figure(
            "streams", "exec p50", lat.p50_ms, "ms", anchor=base.p50_ms, anchor_name=exec_anchor
        ),
        Figure(
            "streams", "exec p99", lat.p99_ms, "ms", anchor=base.p99_ms, anchor_name=exec_anchor
        ),
        Figure(
            "streams",
            "port-forward throughput",
            max(fwd),
            "MB/s",
            better="higher",
            anchor=max(direct),
            anchor_name="direct TCP to the pod's address",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--execs", type=int, default=50, help="execs (and as many anchors)")
    p.add_argument("--megabytes", type=int, default=64, help="size of the forwarded file (MiB)")
    p.add_argument("--rounds", type=int, default=5, help="forwarded fetches (and anchors)")
    p.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.execs, args.megabytes, args.rounds = 10, 8, 2
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        figures = asyncio.run(run(args, Path(tmp)))
    save_if_asked(args.results, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
