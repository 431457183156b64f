"""``kubectl exec``, ``attach``, ``cp`` and ``port-forward`` as they come, 1.27 to 1.33.

A real API server relays to a real node agent (``support.kubelet``: the
kubelet with its pod workers on the process runtime, root mode with
network namespaces when run as root; Docker for a smaller set). Each
kubectl version stands for a transport (reference section 0, item 5):

- 1.27: SPDY/3.1 for everything (offers v4..v1 for exec);
- 1.30: WebSocket ``v5.channel.k8s.io`` for exec, SPDY for port-forward;
- 1.33: WebSocket for exec and the SPDY-in-WebSocket port-forward tunnel;
  with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`` SPDY with v5 chosen.

kubectl runs as a subprocess of the test's event loop (the node agent runs
on that loop, so nothing here may block it).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import ssl
import struct
import termios
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import pytest
from support.apiserver import RunningAPI
from support.engines import require_engine
from support.kubectlbin import KUBECTL_VERSIONS
from support.kubelet import RUNTIMES, KubeletNode, kubelet_node_for
from support.wait import eventually_async

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.kubelet.runtimes.processsettings import ProcessRuntimeSettings

pytestmark = pytest.mark.kubectl
PODS = BUILTIN_TYPES.require("", "Pod")
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
# An HTTP server in the pod answering every GET with its first argument (runs in either runtime).
SERVE = """
import http.server, os, sys
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[1].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
# All addresses, as port-forward reaches localhost in the pod's network (as on Kubernetes);
# in loopback mode pods share the node's network and each binds only its own 127.x address.
host = os.environ.get("HOST", "")
bind = host if host.startswith("127.") else "0.0.0.0"
http.server.ThreadingHTTPServer((bind, 8080), Answer).serve_forever()
"""

LISTENING = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}


@dataclass(frozen=True)
class Ran:
    code: int
    out: bytes
    err: str


class Kubectl:
    """One kubectl minor version against the test API server."""

    def __init__(self, api: RunningAPI, minor: int, home: Path) -> None:
        self.binary = KUBECTL_DIR / f"kubectl.1.{minor}"
        require_engine("kubectl", self.binary.exists(), f"{self.binary} is missing")
        self.minor = minor
        self.api = api
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        self.env["HOME"] = str(home)

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), "--kubeconfig", str(self.api.kubeconfig), *args]

    async def run(
        self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> Ran:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**self.env, **(env or {})},
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"kubectl {' '.join(args)} did not finish in 60s") from None
        return Ran(proc.returncode or 0, out, err.decode(errors="replace"))

    @contextlib.asynccontextmanager
    async def background(self, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


@pytest.fixture
async def node(
    request: pytest.FixtureRequest, sqlite_api: RunningAPI, tmp_path: Path
) -> AsyncIterator[KubeletNode]:
    async with kubelet_node_for(request, sqlite_api, "process", tmp_path) as running:
        yield running


LOOPBACK = ProcessRuntimeSettings(
    network="loopback", isolation="off", exit_poll_interval=0.1, log_follow_interval=0.02
)


@pytest.fixture(params=[*RUNTIMES, "process-loopback"])
async def any_node(
    request: pytest.FixtureRequest, sqlite_api: RunningAPI, tmp_path: Path
) -> AsyncIterator[KubeletNode]:
    """Both runtimes, and the process runtime as a node without root runs it (loopback)."""
    kind, loopback = str(request.param).removesuffix("-loopback"), "loopback" in request.param
    async with kubelet_node_for(
        request, sqlite_api, kind, tmp_path, process_settings=LOOPBACK if loopback else None
    ) as running:
        yield running


async def run_pod(node: KubeletNode, name: str, command: list[str], **container: object) -> None:
    await node.create_pod(
        {
            "metadata": {"name": name},
            "spec": {
                "containers": [
                    {"name": "app", "image": "paas/stack:bookworm", "command": command, **container}
                ]
            },
        }
    )
    await node.wait_running(name)


async def forwarded_port(proc: asyncio.subprocess.Process) -> int:
    """The local port ``kubectl port-forward`` printed it listens on."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    match = re.search(rb"Forwarding from 127\.0\.0\.1:(\d+)", line)
    assert match, line
    return int(match.group(1))


@pytest.mark.parametrize(
    ("minor", "env"),
    [
        *((int(v.split(".")[1]), {}) for v in KUBECTL_VERSIONS),
        (33, {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}),
    ],
    ids=[*(f"{v}" for v in KUBECTL_VERSIONS), "1.33-spdy-v5"],
)
async def test_exec_exit_code_stdin_and_cp_both_ways(
    node: KubeletNode, sqlite_api: RunningAPI, tmp_path: Path, minor: int, env: dict[str, str]
) -> None:
    kubectl = Kubectl(sqlite_api, minor, tmp_path / "home")
    await run_pod(node, "box", ["sleep", "3600"])
    await check_exec_and_cp(kubectl, "box", tmp_path, env)


async def check_exec_and_cp(
    kubectl: Kubectl, pod: str, tmp_path: Path, env: dict[str, str] | None = None
) -> None:
    """A command's exit code and output, piped stdin, and a file copied in and back out."""
    env = env or {}

    failed = await kubectl.run(
        "exec", pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3", env=env
    )
    assert failed.code == 3, failed.err
    assert failed.out == b"out\n"
    assert "err\n" in failed.err and "command terminated with exit code 3" in failed.err

    text = b"line one\nline two\n" * 1000
    echoed = await kubectl.run("exec", "-i", pod, "--", "cat", stdin=text, env=env)
    assert (echoed.code, echoed.out) == (0, text), echoed.err

    payload = os.urandom(300_000)
    (tmp_path / "in.bin").write_bytes(payload)
    put = await kubectl.run("cp", str(tmp_path / "in.bin"), f"{pod}:/tmp/copied.bin", env=env)
    assert put.code == 0, put.err
    got = await kubectl.run("cp", f"{pod}:/tmp/copied.bin", str(tmp_path / "out.bin"), env=env)
    assert got.code == 0, got.err
    assert (tmp_path / "out.bin").read_bytes() == payload


def _drive_shell(argv: list[str], env: dict[str, str]) -> tuple[bytes, int]:
    """Run kubectl under a 30x100 pty: ask the shell its size, grow the terminal to 40x120 and
    ask again, then leave with exit 5."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on the pty
        os.execve(argv[0], argv, env)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        seen = b""

        def read_until(token: bytes, deadline: float) -> None:
            nonlocal seen
            while token not in seen and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        return
                    if not chunk:
                        return
                    seen += chunk

        # kubectl sends the first size beside stdin, in no set order (on Kubernetes too): ask
        # until the shell has it, rather than race a command typed before kubectl connected.
        deadline = time.monotonic() + 30
        while b"30 100" not in seen and time.monotonic() < deadline:
            os.write(fd, b"stty size; echo MARK$((40+2))\r")
            read_until(b"30 100", min(deadline, time.monotonic() + 0.5))
        read_until(b"MARK42", time.monotonic() + 30)
        # The terminal grows: the kernel signals kubectl (SIGWINCH), which sends a resize.
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        deadline = time.monotonic() + 30
        while b"40 120" not in seen and time.monotonic() < deadline:
            os.write(fd, b"stty size\r")
            read_until(b"40 120", min(deadline, time.monotonic() + 0.5))
        os.write(fd, b"exit 5\r")
        read_until(b"exit code 5", time.monotonic() + 30)
    finally:
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            select.select([], [], [], 0.05)
        if not done:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
        os.close(fd)
    return seen, os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("minor", [27, 33])
async def test_exec_it_runs_an_interactive_shell_with_the_terminal_size(
    node: KubeletNode, sqlite_api: RunningAPI, tmp_path: Path, minor: int
) -> None:
    kubectl = Kubectl(sqlite_api, minor, tmp_path / "home")
    await run_pod(node, "box", ["sleep", "3600"])
    seen, code = await asyncio.to_thread(
        _drive_shell, kubectl.argv("exec", "-it", "box", "--", "sh"), kubectl.env
    )
    assert b"30 100" in seen and b"MARK42" in seen, seen
    assert b"40 120" in seen, seen  # the resize reached the shell's terminal
    assert code == 5, seen


@pytest.mark.parametrize("minor", [27, 33])
async def test_attach_shows_what_the_container_writes(
    node: KubeletNode, sqlite_api: RunningAPI, tmp_path: Path, minor: int
) -> None:
    kubectl = Kubectl(sqlite_api, minor, tmp_path / "home")
    ticker = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"
    await run_pod(node, "ticker", ["sh", "-c", ticker])
    async with kubectl.background("attach", "ticker") as proc:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert re.fullmatch(rb"tick \d+\n", line), line


@pytest.mark.parametrize("minor", [27, 30, 33])
async def test_port_forward_serves_and_ends_when_the_pod_is_replaced(
    node: KubeletNode, sqlite_api: RunningAPI, tmp_path: Path, minor: int
) -> None:
    kubectl = Kubectl(sqlite_api, minor, tmp_path / "home")
    await check_port_forward_through_replacement(kubectl, node)


async def run_web(node: KubeletNode, answer: str) -> None:
    await run_pod(node, "web", ["python3", "-c", SERVE, answer], readinessProbe=LISTENING)


async def check_port_forward_through_replacement(kubectl: Kubectl, node: KubeletNode) -> None:
    """Three connections answered; the pod replaced, kubectl ends; a new one reaches the new pod."""
    await run_web(node, "first pod")
    async with kubectl.background("port-forward", "pod/web", ":8080") as proc:
        port = await forwarded_port(proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(3):  # three connections, three stream pairs
                answer = await http.get("/", headers={"Connection": "close"})
                assert answer.text == "first pod"
            await node.client.delete(PODS, "web", "default")
            await eventually_async(lambda: _gone(node, "web"), 30)
            await run_web(node, "second pod")
            with contextlib.suppress(httpx.HTTPError):  # this connection meets the old pod's end
                await http.get("/", headers={"Connection": "close"})
        code = await asyncio.wait_for(proc.wait(), 30)
        assert proc.stderr is not None
        err = (await proc.stderr.read()).decode()
        assert code == 1 and "lost connection to pod" in err, err
    async with kubectl.background("port-forward", "pod/web", ":8080") as proc:
        port = await forwarded_port(proc)
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{port}/")
            assert answer.text == "second pod"


async def test_exec_cp_and_port_forward_on_each_runtime(
    any_node: KubeletNode, sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    kubectl = Kubectl(sqlite_api, 33, tmp_path / "home")
    await run_pod(any_node, "box", ["sleep", "3600"])
    await check_exec_and_cp(kubectl, "box", tmp_path)
    seen, code = await asyncio.to_thread(
        _drive_shell, kubectl.argv("exec", "-it", "box", "--", "sh"), kubectl.env
    )
    assert b"30 100" in seen and b"40 120" in seen and code == 5, seen
    await check_port_forward_through_replacement(kubectl, any_node)


async def _gone(node: KubeletNode, name: str) -> bool:
    return await node.pod(name) is None


@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io"])
async def test_websocket_exec_answers_pings_and_ends_with_status_and_close_frame(
    node: KubeletNode, sqlite_api: RunningAPI, protocol: str
) -> None:
    """What kubectl's WebSocket client depends on, seen by a plain WebSocket client."""
    await run_pod(node, "box", ["sleep", "3600"])
    context = ssl.create_default_context(cafile=str(sqlite_api.ca))
    query = [("command", "sh"), ("command", "-c"), ("command", "read x; echo got $x; exit 7")]
    query += [("stdin", "true"), ("stdout", "true"), ("stderr", "true")]
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sqlite_api.token}"}) as http,
        http.ws_connect(
            f"{sqlite_api.url}/api/v1/namespaces/default/pods/box/exec",
            params=query,
            protocols=(protocol,),
            ssl=context,
            autoping=False,
        ) as ws,
    ):
        assert ws.protocol == protocol
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=10)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        await ws.send_bytes(b"\x00hello\n")
        out, status = b"", {}
        while True:
            msg = await ws.receive(timeout=30)
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            assert msg.data[0] != 255 or protocol.startswith("v5"), "a close note under v4"
            if msg.data[0] == 1:
                out += msg.data[1:]
            elif msg.data[0] == 3:
                status = json.loads(msg.data[1:])
        assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1000
    assert out == b"got hello\n"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
