"""The anchors of bench.pods: the pod's program started by hand, timed until it answers.

- ``process_anchor``: ``python3 -m http.server PORT`` as a plain subprocess of the bench,
  on the host's loopback (``python3`` as this process's PATH finds it: the same one the
  process runtime's pods get);
- ``DockerAnchor``: the same image and command run with the engine directly through the
  SDK (``docker run -d --init``, on the engine's default bridge), polled at the
  container's address.

Both poll ``GET /`` every ``POLL`` (10 ms) and run a wave one after another or all at once,
as the pods do. Everything they start is stopped or removed before a wave returns.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from orchestrator.kubelet.runtimes.base import STACK_IMAGE

APP_PORT = 8080  # where the Docker anchor's app listens (its own address)
POLL = 0.01  # how often an anchor asks whether the app answers
TIMEOUT = 120.0  # an anchor not answering by then fails the run
ANCHOR_LABEL = "paas.dev/bench-anchor"
ANCHOR_NAMES = {
    "process": "python3 -m http.server started as a subprocess, until it answers",
    "docker": "docker run -d --init paas/stack:bookworm python3 -m http.server (SDK), "
    "until it answers",
}


def answers(host: str, port: int) -> bool:
    """Whether ``GET /`` at host:port answers with a status line now."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


async def answers_async(host: str, port: int) -> bool:
    """``answers`` without blocking the event loop."""
    writer = None
    try:
        async with asyncio.timeout(1):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            return (await reader.read(12)).startswith(b"HTTP/")
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()


async def wait_answering(host: str, port: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not await answers_async(host, port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the anchor at {host}:{port} did not answer")
        await asyncio.sleep(POLL)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held together while chosen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


async def process_anchor(count: int, at_once: bool) -> list[float]:
    """``python3 -m http.server PORT`` started by hand, each timed until it answers."""
    procs: list[asyncio.subprocess.Process] = []

    async def one(port: int) -> float:
        start = time.perf_counter()
        procs.append(
            await asyncio.create_subprocess_exec(
                "python3",
                "-m",
                "http.server",
                str(port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        await wait_answering("127.0.0.1", port)
        return time.perf_counter() - start

    try:
        ports = free_ports(count)
        if at_once:
            return list(await asyncio.gather(*(one(p) for p in ports)))
        return [await one(p) for p in ports]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(proc.wait() for proc in procs))


class DockerAnchor:
    """The same image and command run with the Docker engine directly."""

    def __init__(self) -> None:
        import docker

        self.client = docker.from_env(timeout=120, max_pool_size=64)  # a wave at once
        self.run_id = uuid.uuid4().hex[:8]

    def one(self) -> float:
        start = time.perf_counter()
        container = self.client.containers.run(
            STACK_IMAGE,
            ["python3", "-m", "http.server", str(APP_PORT)],
            detach=True,
            init=True,
            labels={ANCHOR_LABEL: self.run_id},
        )
        container.reload()
        ip = container.attrs["NetworkSettings"]["IPAddress"]
        deadline = time.monotonic() + TIMEOUT
        while not answers(ip, APP_PORT):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the anchor container {container.name} did not answer")
            time.sleep(POLL)
        return time.perf_counter() - start

    def wave(self, count: int, at_once: bool) -> list[float]:
        try:
            if not at_once:
                return [self.one() for _ in range(count)]
            with ThreadPoolExecutor(count) as pool:
                return list(pool.map(lambda _: self.one(), range(count)))
        finally:
            self.remove_all()

    def remove_all(self) -> None:
        for c in self.client.containers.list(
            all=True, filters={"label": f"{ANCHOR_LABEL}={self.run_id}"}
        ):
            c.remove(force=True)

    def close(self) -> None:
        self.remove_all()
        self.client.close()
