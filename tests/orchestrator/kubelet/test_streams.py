"""exec, attach and port-forward on the node agent's HTTPS port, as the API server relays them.

A real ``KubeletServer`` over a real runtime, spoken to by a real WebSocket
client (aiohttp's) with the API server's client certificate, using the
kubelet's channel protocol (``v5.channel.k8s.io``; port-forward
``v4.channel.k8s.io``). The process runtime runs in loopback mode (no
root, no namespaces) and, where the tests run as root, in root mode
(network, PID and mount namespaces: exec enters them). The Docker runtime
gets a few cases of its own; each costs seconds.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import tarfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.docker import MakeRuntime
from support.engines import require_engine
from support.kubelet import free_pod_cidr
from support.wait import eventually_async

from orchestrator import pki
from orchestrator.kubelet.containerspec import container_spec
from orchestrator.kubelet.runtimes.base import (
    STACK_IMAGE,
    ContainerSpec,
    LogOptions,
    Runtime,
    SandboxSpec,
)
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings

V5 = "v5.channel.k8s.io"
SERVE = (
    "import http.server as h, os; h.test(HandlerClass=h.SimpleHTTPRequestHandler, "
    "port={port}, bind=os.environ.get('HOST', '0.0.0.0'))"
)


@dataclass
class Result:
    """What a session sent: the bytes per channel, and the one Status."""

    out: bytes = b""
    err: bytes = b""
    status: dict[str, Any] = field(default_factory=dict)
    closed_cleanly: bool = False


@dataclass
class Node:
    runtime: Runtime
    server: KubeletServer
    client_cert: pki.CertPaths
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    async def start(self, name: str, argv: tuple[str, ...], **kw: Any) -> str:
        sandbox = await self.runtime.run_sandbox(
            SandboxSpec(pod_uid=self.uid, namespace="default", name="web", hostname="web")
        )
        spec = ContainerSpec(
            pod_uid=self.uid,
            namespace="default",
            pod_name="web",
            name=name,
            attempt=0,
            image=STACK_IMAGE,
            command=argv,
            **kw,
        )
        state = await self.runtime.start_container(sandbox, spec)
        return state.id

    def session(self) -> aiohttp.ClientSession:
        context = pki.pinned_context(self.server.cert_pem, self.client_cert)
        return aiohttp.ClientSession(
            base_url=self.server.url, connector=aiohttp.TCPConnector(ssl=context)
        )

    async def exec(
        self,
        argv: list[str],
        *,
        stdin: bytes | None = None,
        tty: bool = False,
        talk: Callable[[aiohttp.ClientWebSocketResponse], Awaitable[None]] | None = None,
    ) -> Result:
        query: list[tuple[str, str]] = [("command", a) for a in argv]
        query += [("output", "1")] + ([("error", "1")] if not tty else [("tty", "1")])
        if stdin is not None or talk is not None:
            query.append(("input", "1"))
        async with (
            self.session() as http,
            http.ws_connect("/exec/default/web/app", params=query, protocols=(V5,)) as ws,
        ):
            assert ws.protocol == V5
            if stdin is not None:
                await ws.send_bytes(b"\x00" + stdin)
                await ws.send_bytes(b"\xff\x00")  # v5: no more stdin
            if talk is not None:
                await talk(ws)
            return await collect(ws)


async def collect(ws: aiohttp.ClientWebSocketResponse) -> Result:
    result = Result()
    async for msg in ws:
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        channel, data = msg.data[0], msg.data[1:]
        if channel == 1:
            result.out += data
        elif channel == 2:
            result.err += data
        elif channel == 3:
            assert not result.status, "a second status"
            result.status = json.loads(data)
    result.closed_cleanly = ws.close_code == 1000
    return result


async def read_until(ws: aiohttp.ClientWebSocketResponse, wanted: bytes) -> bytes:
    seen = b""
    while wanted not in seen:
        msg = await asyncio.wait_for(ws.receive(), 15)
        assert msg.type == aiohttp.WSMsgType.BINARY, (msg, seen)
        if msg.data[0] in (1, 2):
            seen += msg.data[1:]
        assert msg.data[0] != 3, (json.loads(msg.data[1:]), seen)
    return seen


async def _node(tmp_path: Path, runtime: Runtime) -> AsyncIterator[Node]:
    ca = pki.ensure_ca(tmp_path / "ca")
    client_cert = pki.ensure_client_cert(tmp_path / "ca", ca, "apiserver-kubelet-client")
    server = KubeletServer(
        runtime, KubeletServerSettings(cert_dir=tmp_path / "tls", client_ca=ca.cert.read_bytes())
    )
    await server.start()
    try:
        yield Node(runtime, server, client_cert)
    finally:
        await server.close()


@pytest.fixture(params=["loopback", "root"])
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Node]:
    """A node on the process runtime, in loopback mode or (as root) with namespaces."""
    async for node in _process_node(request.param, tmp_path):
        yield node


@pytest.fixture
async def root_node(tmp_path: Path) -> AsyncIterator[Node]:
    async for node in _process_node("root", tmp_path):
        yield node


async def _process_node(mode: str, tmp_path: Path) -> AsyncIterator[Node]:
    if mode == "root":
        require_engine("root", os.geteuid() == 0, "root mode needs root")
        settings = ProcessRuntimeSettings(network="root", log_follow_interval=0.02)
        cidr = free_pod_cidr()
    else:
        settings = ProcessRuntimeSettings(
            network="loopback", isolation="off", log_follow_interval=0.02
        )
        cidr = ""
    runtime = ProcessRuntime(tmp_path / "rt", f"st-{uuid.uuid4().hex[:8]}", settings)
    await runtime.start(cidr)
    try:
        async for node in _node(tmp_path, runtime):
            yield node
    finally:
        await runtime.teardown()
        await runtime.close()


SLEEPER = ("sleep", "600")


# -- exec ------------------------------------------------------------------------------------


async def test_exec_prints_and_reports_success_or_the_exit_code(node: Node) -> None:
    await node.start("app", SLEEPER)
    ok = await node.exec(["echo", "hi", "there"])
    assert ok.out == b"hi there\n" and ok.err == b""
    assert ok.status == {"metadata": {}, "status": "Success"} and ok.closed_cleanly
    failed = await node.exec(["sh", "-c", "echo oops >&2; exit 3"])
    assert failed.err == b"oops\n"
    assert failed.status["reason"] == "NonZeroExitCode"
    assert failed.status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert failed.status["message"].startswith("command terminated with non-zero exit code")
    assert failed.closed_cleanly


async def test_exec_of_a_missing_command_is_a_failure_naming_it(node: Node) -> None:
    await node.start("app", SLEEPER)
    result = await node.exec(["no-such-command-here"])
    assert result.status["status"] == "Failure"
    assert 'exec: "no-such-command-here": executable file not found' in result.status["message"]


async def test_stdin_reaches_cat_and_its_end_ends_cat(node: Node) -> None:
    await node.start("app", SLEEPER)
    result = await node.exec(["cat"], stdin=b"line one\nline two\n")
    assert result.out == b"line one\nline two\n"
    assert result.status["status"] == "Success"


async def test_a_tty_shell_sees_its_size_change_after_a_resize(node: Node) -> None:
    await node.start("app", SLEEPER)

    async def talk(ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 100, "Height": 30}).encode())
        await ws.send_bytes(b'\x00stty size; echo MA""RK1\r')
        seen = await read_until(ws, b"MARK1\r\n")
        assert b"30 100" in seen
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 120, "Height": 40}).encode())
        await ws.send_bytes(b'\x00stty size; echo MA""RK2\r')
        seen = await read_until(ws, b"MARK2\r\n")
        assert b"40 120" in seen
        await ws.send_bytes(b"\x00exit 7\r")

    result = await node.exec(["sh"], tty=True, talk=talk)
    assert result.status["details"]["causes"][0]["message"] == "7", (result.out, result.status)


async def test_a_file_copies_in_and_out_with_tar(node: Node, tmp_path: Path) -> None:
    await node.start("app", SLEEPER)
    where = tmp_path / f"cp-{uuid.uuid4().hex[:6]}"
    assert (await node.exec(["mkdir", "-p", str(where)])).status["status"] == "Success"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = os.urandom(200_000)  # more than one message
        info = tarfile.TarInfo("f.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    copied_in = await node.exec(["tar", "-xmf", "-", "-C", str(where)], stdin=archive.getvalue())
    assert copied_in.status["status"] == "Success", copied_in
    copied_out = await node.exec(["tar", "cf", "-", "-C", str(where), "f.bin"])
    assert copied_out.status["status"] == "Success"
    with tarfile.open(fileobj=io.BytesIO(copied_out.out)) as tar:
        member = tar.extractfile("f.bin")
        assert member is not None and member.read() == data


async def test_exec_is_refused_without_the_client_cert_and_for_unknown_pods(node: Node) -> None:
    context = pki.pinned_context(node.server.cert_pem, None)
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(base_url=node.server.url, connector=connector) as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect("/exec/default/web/app?command=ls&output=1", protocols=(V5,))
        assert refused.value.status == 401
    async with node.session() as http:
        r = await http.get("/exec/default/nope/app?command=ls&output=1")
        assert r.status in (400, 404)
        with pytest.raises(aiohttp.WSServerHandshakeError) as missing:
            await http.ws_connect("/exec/default/nope/app?command=ls&output=1", protocols=(V5,))
        assert missing.value.status == 404


async def test_the_client_going_away_kills_the_exec(node: Node, tmp_path: Path) -> None:
    await node.start("app", SLEEPER)
    marker = f"gone-{uuid.uuid4().hex[:8]}"
    async with node.session() as http, http.ws_connect(
        "/exec/default/web/app",
        params=[("command", "sleep"), ("command", "300"), ("command", marker), ("output", "1")],
        protocols=(V5,),
    ):  # fmt: skip
        await eventually_async(lambda: asyncio.to_thread(_running, marker))
    await eventually_async(lambda: asyncio.to_thread(lambda: not _running(marker)))


def _running(marker: str) -> bool:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


# -- attach ----------------------------------------------------------------------------------


async def test_attach_to_a_stdin_tty_container_talks_to_its_process(node: Node) -> None:
    script = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\n"
    cid = await node.start("app", ("python3", "-u", "-c", script), stdin=True, tty=True)
    query = {"input": "1", "output": "1", "tty": "1"}
    async with node.session() as http, http.ws_connect(
        "/attach/default/web/app", params=query, protocols=(V5,)
    ) as ws:  # fmt: skip
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 81, "Height": 25}).encode())
        await ws.send_bytes(b"\x00hello\r")
        seen = await read_until(ws, b"got hello")
        assert b"hello" in seen
    logged = b"".join([line async for line in node.runtime.logs(cid, LogOptions())])
    assert b"got hello\r\n" in logged  # a terminal's output is the container's log too


async def test_attach_without_a_tty_feeds_stdin_and_reads_stdout(node: Node) -> None:
    await node.start("app", ("cat",), stdin=True)
    query = {"input": "1", "output": "1", "error": "1"}
    async with node.session() as http, http.ws_connect(
        "/attach/default/web/app", params=query, protocols=(V5,)
    ) as ws:  # fmt: skip
        await ws.send_bytes(b"\x00first line\n")
        assert await read_until(ws, b"first line\n") == b"first line\n"
        await ws.send_bytes(b"\x00second\n")
        assert await read_until(ws, b"second\n") == b"second\n"


async def test_attach_shows_output_from_now_on_and_ends_with_the_container(
    node: Node, tmp_path: Path
) -> None:
    go = tmp_path / f"go-{uuid.uuid4().hex[:6]}"
    script = (
        "import os, sys, time\n"
        "print('before', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
        "print('after'); print('oops', file=sys.stderr)\n"
    )
    cid = await node.start("app", ("python3", "-u", "-c", script))
    await eventually_async(
        lambda: _logged(node, cid, b"before"), message="the container did not start"
    )
    query = {"output": "1", "error": "1"}
    async with node.session() as http, http.ws_connect(
        "/attach/default/web/app", params=query, protocols=(V5,)
    ) as ws:  # fmt: skip
        go.touch()
        result = await collect(ws)
    assert (result.out, result.err) == (b"after\n", b"oops\n")
    assert result.status["status"] == "Success" and result.closed_cleanly


async def _logged(node: Node, cid: str, text: bytes) -> bool:
    return text in b"".join([line async for line in node.runtime.logs(cid, LogOptions())])


async def test_attach_with_stdin_to_a_container_without_it_is_refused(node: Node) -> None:
    await node.start("app", SLEEPER)
    async with node.session() as http, http.ws_connect(
        "/attach/default/web/app", params={"input": "1", "output": "1"}, protocols=(V5,)
    ) as ws:  # fmt: skip
        result = await collect(ws)
    assert result.status["status"] == "Failure"
    assert "stdin" in result.status["message"]


# -- port-forward ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def forward(node: Node, port: int, payload: bytes) -> tuple[bytes, bytes]:
    """(data, error text) of one forwarded connection sending ``payload``."""
    data, error = b"", b""
    async with node.session() as http, http.ws_connect(
        "/portForward/default/web", params={"port": str(port)}, protocols=("v4.channel.k8s.io",)
    ) as ws:  # fmt: skip
        firsts = [await ws.receive_bytes(), await ws.receive_bytes()]
        assert firsts == [
            b"\x00" + port.to_bytes(2, "little"),
            b"\x01" + port.to_bytes(2, "little"),
        ]
        await ws.send_bytes(b"\x00" + payload)
        async for msg in ws:
            if msg.data[0] == 0:
                data += msg.data[1:]
            else:
                error += msg.data[1:]
    return data, error


async def test_port_forward_reaches_a_server_in_the_pod(node: Node) -> None:
    port = free_port()
    await node.start("app", ("python3", "-c", SERVE.format(port=port)))
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"

    async def answered() -> bool:
        data, _ = await forward(node, port, request)
        return data.startswith(b"HTTP/1.0 200")

    await eventually_async(answered, timeout=20)
    data, error = await forward(node, port, request)
    assert b"Directory listing" in data and error == b""


@pytest.mark.root
async def test_port_forward_reaches_the_pods_own_localhost_in_root_mode(root_node: Node) -> None:
    node = root_node
    port = free_port()
    serve = SERVE.format(port=port).replace("os.environ.get('HOST', '0.0.0.0')", "'127.0.0.1'")
    await node.start("app", ("python3", "-c", serve))
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"

    async def answered() -> bool:
        data, _ = await forward(node, port, request)
        return data.startswith(b"HTTP/1.0 200")

    await eventually_async(answered, timeout=20)
    with pytest.raises(OSError):  # not from the node: only inside the pod's namespace
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.root
async def test_port_forward_reaches_a_server_bound_to_the_pod_address_only(root_node: Node) -> None:
    """Nothing on the pod's loopback: the pod's own address is tried next (examples/web.yaml
    binds its server there)."""
    node = root_node
    port = free_port()
    own_address = (  # the address of the pod's eth0: the source of its default route
        "import socket; u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "u.connect(('10.255.255.255', 9)); os.environ['HOST'] = u.getsockname()[0]; "
    )
    await node.start(
        "app", ("python3", "-c", "import os; " + own_address + SERVE.format(port=port))
    )
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"

    async def answered() -> bool:
        data, _ = await forward(node, port, request)
        return data.startswith(b"HTTP/1.0 200")

    await eventually_async(answered, timeout=20)


async def test_port_forward_to_a_closed_port_sends_the_error_text(node: Node) -> None:
    await node.start("app", SLEEPER)
    port = free_port()
    data, error = await forward(node, port, b"hello")
    assert data == b""
    text = error.decode()
    assert text.startswith(f"error forwarding port {port} to pod default/web, uid {node.uid}")
    assert "connection refused" in text


# -- Docker ----------------------------------------------------------------------------------


@pytest.fixture
async def docker_node(docker_runtimes: MakeRuntime, tmp_path: Path) -> AsyncIterator[Node]:
    runtime = await docker_runtimes()
    async for node in _node(tmp_path, runtime):
        yield node


@pytest.mark.docker
async def test_docker_exec_codes_stdin_and_tty_resize(docker_node: Node) -> None:
    node = docker_node
    await node.start("app", SLEEPER)
    ok = await node.exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (ok.out, ok.err) == (b"out\n", b"err\n")
    assert ok.status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert ok.closed_cleanly
    missing = await node.exec(["no-such-command-here"])
    assert missing.status["status"] == "Failure"
    assert 'exec: "no-such-command-here": executable file not found' in missing.status["message"]
    piped = await node.exec(["cat"], stdin=b"through the engine\n")
    assert piped.out == b"through the engine\n" and piped.status["status"] == "Success"

    async def talk(ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 120, "Height": 40}).encode())
        await ws.send_bytes(b'\x00stty size; echo MA""RK\r')
        assert b"40 120" in await read_until(ws, b"MARK\r\n")
        await ws.send_bytes(b"\x00exit\r")

    shell = await node.exec(["sh"], tty=True, talk=talk)
    assert shell.status["status"] == "Success"


@pytest.mark.docker
async def test_docker_attach_and_port_forward(docker_node: Node) -> None:
    node = docker_node
    script = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\n"
    cid = await node.start("app", ("python3", "-u", "-c", script), stdin=True, tty=True)
    query = {"input": "1", "output": "1", "tty": "1"}
    async with node.session() as http, http.ws_connect(
        "/attach/default/web/app", params=query, protocols=(V5,)
    ) as ws:  # fmt: skip
        await ws.send_bytes(b"\x00hello\r")
        await read_until(ws, b"got hello")
    logged = b"".join([line async for line in node.runtime.logs(cid, LogOptions())])
    assert b"got hello" in logged
    await node.start("web", ("python3", "-c", SERVE.format(port=8080)))
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"

    async def answered() -> bool:
        data, _ = await forward(node, 8080, request)
        return data.startswith(b"HTTP/1.0 200")

    await eventually_async(answered, timeout=20)
    _, error = await forward(node, 9999, b"x")
    assert b"connection refused" in error


async def test_pings_are_answered_with_pongs_while_a_command_runs(node: Node) -> None:
    await node.start("app", SLEEPER)
    query = [("command", "sleep"), ("command", "30"), ("output", "1")]
    async with node.session() as http, http.ws_connect(
        "/exec/default/web/app", params=query, protocols=(V5,), autoping=False
    ) as ws:  # fmt: skip
        await ws.ping(b"")  # kubectl pings every 5 s; only pongs extend its read deadline
        pong = await asyncio.wait_for(ws.receive(), 10)
        assert pong.type == aiohttp.WSMsgType.PONG


async def test_one_socket_forwards_several_ports_on_pairs_of_channels(node: Node) -> None:
    first, second = free_port(), free_port()
    for name, port in (("one", first), ("two", second)):
        await node.start(name, ("python3", "-c", SERVE.format(port=port)))
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"

    async def both_answer() -> bool:
        answers = [(await forward(node, p, request))[0] for p in (first, second)]
        return all(a.startswith(b"HTTP/1.0 200") for a in answers)

    await eventually_async(both_answer, timeout=20)
    query = [("port", str(first)), ("port", str(second))]
    async with node.session() as http, http.ws_connect(
        "/portForward/default/web", params=query, protocols=("v4.channel.k8s.io",)
    ) as ws:  # fmt: skip
        firsts = {(await ws.receive_bytes())[0] for _ in range(4)}
        assert firsts == {0, 1, 2, 3}
        await ws.send_bytes(b"\x02" + request)  # the second port's data channel
        answer = b""
        while b"Directory listing" not in answer:
            msg = await asyncio.wait_for(ws.receive_bytes(), 10)
            assert msg[0] == 2, msg
            answer += msg[1:]


def test_a_pods_stdin_and_tty_reach_the_runtime_spec() -> None:
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}, "spec": {}}
    plain = container_spec(pod, {"name": "c", "image": STACK_IMAGE}, **SPEC_ARGS)
    assert (plain.stdin, plain.tty) == (False, False)
    both = {"name": "c", "image": STACK_IMAGE, "stdin": True, "tty": True}
    interactive = container_spec(pod, both, **SPEC_ARGS)
    assert (interactive.stdin, interactive.tty) == (True, True)


SPEC_ARGS: dict[str, Any] = {"attempt": 0, "init": False, "env": [], "mounts": ()}


async def test_a_v4_client_is_answered_in_v4(node: Node) -> None:
    await node.start("app", SLEEPER)
    query = [("command", "sh"), ("command", "-c"), ("command", "exit 4"), ("output", "1")]
    async with node.session() as http, http.ws_connect(
        "/exec/default/web/app", params=query, protocols=("v4.channel.k8s.io",)
    ) as ws:  # fmt: skip
        assert ws.protocol == "v4.channel.k8s.io"
        result = await collect(ws)
    assert result.status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
