"""The Docker runtime against the real engine: pods of stack-image containers running python3."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import subprocess
import time
import urllib.request
import uuid
from typing import Any

import docker
import pytest
from support.docker import MakeRuntime
from support.wait import eventually_async

from orchestrator.kubelet import podnet
from orchestrator.kubelet.runtimes.base import (
    STACK_IMAGE,
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    DNSConfig,
    ImageError,
    Limits,
    LogOptions,
    Mount,
    PortMapping,
    Runtime,
    Sandbox,
    SandboxSpec,
)
from orchestrator.kubelet.runtimes.docker import DockerRuntime, purge_node
from orchestrator.kubelet.runtimes.dockerspec import legacy_network_name, strip_scheme

pytestmark = pytest.mark.docker

SERVE = "import http.server as h; h.test(HandlerClass=h.SimpleHTTPRequestHandler, port={port})"


def pod(name: str = "web", **kwargs: object) -> SandboxSpec:
    uid = str(uuid.uuid4())
    return SandboxSpec(pod_uid=uid, namespace="default", name=name, hostname=name, **kwargs)  # type: ignore[arg-type]


def python(sandbox: SandboxSpec, name: str, code: str, **kwargs: object) -> ContainerSpec:
    fields: dict[str, object] = {
        "pod_uid": sandbox.pod_uid,
        "namespace": sandbox.namespace,
        "pod_name": sandbox.name,
        "name": name,
        "attempt": 0,
        "image": STACK_IMAGE,
        "command": ("python3", "-u", "-c", code),
    }
    fields.update(kwargs)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


async def run(runtime: DockerRuntime, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
    await runtime.ensure_image(spec)
    return await runtime.start_container(sandbox, spec)


async def exited(
    runtime: DockerRuntime, state: ContainerState, timeout: float = 30
) -> ContainerState:
    async def check() -> Any:
        for seen in await runtime.containers(state.pod_uid):
            if seen.id == state.id and seen.status == "exited":
                return seen
        return None

    return await eventually_async(check, timeout=timeout, message=f"{state.name} did not exit")


async def logs(runtime: DockerRuntime, state: ContainerState, **options: object) -> list[bytes]:
    return [line async for line in runtime.logs(state.id, LogOptions(**options))]  # type: ignore[arg-type]


def http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.read().decode()
    except OSError:
        return None


async def serving(url: str, timeout: float = 20) -> str:
    async def check() -> Any:
        return await asyncio.to_thread(http_get, url)

    return await eventually_async(check, timeout=timeout, message=f"nothing answers at {url}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_bindings(container_id: str) -> dict[str, object]:
    client = docker.DockerClient()
    try:
        info = client.api.inspect_container(strip_scheme(container_id))
    finally:
        client.close()
    ports = info["NetworkSettings"]["Ports"] or {}
    return {k: v for k, v in ports.items() if v}


async def test_version_names_the_engine(docker_runtime: DockerRuntime) -> None:
    runtime: Runtime = docker_runtime  # mypy checks that the contract is met
    assert runtime.name == "docker"
    assert re.match(r"docker://\d+\.\d+", await runtime.version())


async def test_exit_codes_and_reasons(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    ok = await run(docker_runtime, sandbox, python(spec, "ok", "print('fine')"))
    bad = await run(docker_runtime, sandbox, python(spec, "bad", "import sys; sys.exit(3)"))
    assert ok.id.startswith("docker://") and ok.attempt == 0 and not ok.init
    done_ok, done_bad = await exited(docker_runtime, ok), await exited(docker_runtime, bad)
    assert (done_ok.exit_code, done_ok.reason) == (0, "Completed")
    assert (done_bad.exit_code, done_bad.reason) == (3, "Error")
    assert (
        done_bad.started_at and done_bad.finished_at and done_bad.finished_at >= done_bad.started_at
    )
    assert done_ok.image == STACK_IMAGE and done_ok.image_id.startswith("sha256:")


async def test_env_working_dir_and_mounts(docker_runtime: DockerRuntime, tmp_path) -> None:
    (tmp_path / "config.txt").write_text("from the host")
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    code = (
        "import os; print(os.environ['GREETING'], os.environ['TWICE'], os.getcwd());"
        "print(open('/etc/app/config.txt').read());"
        "open('/etc/app/new', 'w')"
    )
    state = await run(
        docker_runtime,
        sandbox,
        python(
            spec,
            "app",
            code,
            env=(("GREETING", "hello"), ("TWICE", "first"), ("TWICE", "second")),
            working_dir="/srv/work",
            mounts=(Mount(str(tmp_path), "/etc/app", read_only=True),),
        ),
    )
    done = await exited(docker_runtime, state)
    out = b"".join(await logs(docker_runtime, state))
    assert b"hello second /srv/work\n" in out and b"from the host\n" in out
    assert b"Read-only file system" in out and done.reason == "Error"


async def test_command_replaces_the_entrypoint_and_args_the_cmd(
    docker_runtime: DockerRuntime,
) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    only_args = python(spec, "args", "", command=(), args=("python3", "-c", "print('args')"))
    both = python(spec, "both", "", command=("python3", "-c"), args=("print('both')",))
    states = [await run(docker_runtime, sandbox, c) for c in (only_args, both)]
    for state, expected in zip(states, (b"args\n", b"both\n"), strict=True):
        assert (await exited(docker_runtime, state)).reason == "Completed"
        assert await logs(docker_runtime, state) == [expected]


async def test_containers_of_a_pod_talk_over_localhost(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    server = (
        "import http.server as h; h.HTTPServer(('127.0.0.1', 8080), h.SimpleHTTPRequestHandler)"
    )
    await run(docker_runtime, sandbox, python(spec, "server", server + ".serve_forever()"))
    client = (
        "import time, urllib.request\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://localhost:8080/').status); break\n"
        "    except OSError: time.sleep(0.1)\n"
        "else: raise SystemExit(1)\n"
    )
    state = await run(docker_runtime, sandbox, python(spec, "client", client))
    assert (await exited(docker_runtime, state)).reason == "Completed"
    assert await logs(docker_runtime, state) == [b"200\n"]


async def test_pod_ips_serve_the_host_without_publishing_ports(
    docker_runtime: DockerRuntime,
) -> None:
    """Two pods serve on the same port, each at its own IP; nothing is bound on the node."""
    ips = []
    for name in ("one", "two"):
        spec = pod(name)
        sandbox = await docker_runtime.run_sandbox(spec)
        assert sandbox.ready
        assert ipaddress.ip_address(sandbox.ip) in ipaddress.ip_network(docker_runtime.subnet)
        code = f"open('index.html', 'w').write('{name}');" + SERVE.format(port=8000)
        state = await run(docker_runtime, sandbox, python(spec, "web", code, working_dir="/srv"))
        ips.append(sandbox.ip)
        assert host_bindings(sandbox.id) == {} and host_bindings(state.id) == {}
    assert await serving(f"http://{ips[0]}:8000/") == "one"
    assert await serving(f"http://{ips[1]}:8000/") == "two"


async def test_sandbox_sets_hostname_and_dns(docker_runtime: DockerRuntime) -> None:
    dns = DNSConfig(("10.96.0.10",), ("default.svc.cluster.local",), ("ndots:5",))
    spec = pod("named", dns=dns)
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "import socket; print(socket.gethostname()); print(open('/etc/resolv.conf').read())"
    state = await run(docker_runtime, sandbox, python(spec, "look", code))
    await exited(docker_runtime, state)
    out = b"".join(await logs(docker_runtime, state)).decode()
    assert out.startswith("named\n")
    assert "nameserver 10.96.0.10" in out and "search default.svc.cluster.local" in out
    assert "options ndots:5" in out


async def test_host_port_publishes_the_pod_on_the_node(docker_runtime: DockerRuntime) -> None:
    port = free_port()
    spec = pod(port_mappings=(PortMapping(8000, port, host_ip="127.0.0.1"),))
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "open('index.html', 'w').write('published');" + SERVE.format(port=8000)
    await run(docker_runtime, sandbox, python(spec, "web", code, working_dir="/srv"))
    assert await serving(f"http://127.0.0.1:{port}/") == "published"


async def test_memory_limit_ends_the_container_as_oomkilled(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    hog = "b = bytearray(512 * 1024 * 1024); print('survived')"
    state = await run(
        docker_runtime, sandbox, python(spec, "hog", hog, limits=Limits(memory_bytes=64 << 20))
    )
    done = await exited(docker_runtime, state)
    assert done.reason == "OOMKilled" and done.exit_code == 137
    assert b"survived\n" not in b"".join(await logs(docker_runtime, state))


async def test_stop_sends_sigterm_then_sigkill_after_the_grace(
    docker_runtime: DockerRuntime,
) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    polite = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('bye'), sys.exit(0)))\n"
        "print('up')\n"
        "while True: time.sleep(1)\n"
    )
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up')\n"
    stubborn += "while True: time.sleep(1)\n"
    plain = "import time; print('up'); time.sleep(600)"
    states = {
        name: await run(docker_runtime, sandbox, python(spec, name, code))
        for name, code in (("polite", polite), ("stubborn", stubborn), ("plain", plain))
    }
    for state in states.values():  # each has set up its signal handling
        await eventually_async(functools.partial(logs, docker_runtime, state), timeout=10)

    started = time.monotonic()
    await docker_runtime.stop_container(states["polite"].id, 30)
    await docker_runtime.stop_container(states["plain"].id, 30)
    assert time.monotonic() - started < 20  # both ended on SIGTERM, long before the grace
    started = time.monotonic()
    await docker_runtime.stop_container(states["stubborn"].id, 1)
    assert time.monotonic() - started >= 1

    seen = {s.name: s for s in await docker_runtime.containers(spec.pod_uid)}
    assert (seen["polite"].status, seen["polite"].exit_code) == ("exited", 0)
    assert seen["plain"].exit_code == 143  # killed by SIGTERM's default action
    assert seen["stubborn"].exit_code == 137  # SIGKILL after the grace
    assert b"bye\n" in b"".join(await logs(docker_runtime, states["polite"]))
    await docker_runtime.stop_container(states["polite"].id, 1)  # stopping again: nothing


async def test_image_pull_policies(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    present = python(spec, "c", "", image_pull_policy="Never")
    assert (await docker_runtime.ensure_image(present)).startswith("sha256:")
    missing = "127.0.0.1:1/nothing:latest"  # a registry that does not listen: fails at once
    with pytest.raises(ImageError) as never:
        await docker_runtime.ensure_image(
            python(spec, "c", "", image=missing, image_pull_policy="Never")
        )
    assert never.value.reason == "ErrImageNeverPull"
    assert (
        never.value.message
        == f'Container image "{missing}" is not present with pull policy of Never'
    )
    for policy in ("IfNotPresent", "Always"):
        with pytest.raises(ImageError) as pull:
            await docker_runtime.ensure_image(
                python(spec, "c", "", image=missing, image_pull_policy=policy)
            )
        assert pull.value.reason == "ErrImagePull" and missing in pull.value.message


async def test_a_command_that_cannot_run_is_a_start_error(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    with pytest.raises(ContainerStartError) as failed:
        await run(docker_runtime, sandbox, python(spec, "c", "", command=("no-such-program",)))
    assert failed.value.reason == "RunContainerError"
    assert failed.value.message == 'exec: "no-such-program": executable file not found in $PATH'
    assert await docker_runtime.containers(spec.pod_uid) == []  # nothing half-started is left


async def test_logs_tail_timestamps_since_and_limit(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "import sys, time\nfor i in range(5):\n    print('line', i); time.sleep(0.05)\n"
    code += "sys.stderr.write('oops\\n'); sys.stdout.write('x' * 20000 + '\\n')\n"
    state = await run(docker_runtime, sandbox, python(spec, "talk", code))
    await exited(docker_runtime, state)
    every = await logs(docker_runtime, state)
    assert every[:5] == [b"line 0\n", b"line 1\n", b"line 2\n", b"line 3\n", b"line 4\n"]
    # stderr and stdout written at once may reach the log in either order (as in Kubernetes)
    assert sorted(every[5:]) == [b"oops\n", b"x" * 20000 + b"\n"]  # the engine cut x in two
    assert await logs(docker_runtime, state, tail_lines=2) == every[-2:]
    assert await logs(docker_runtime, state, tail_lines=0) == []
    stamped = await logs(docker_runtime, state, timestamps=True)
    stamp = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z "
    assert all(re.match(stamp, line) for line in stamped)
    assert [line.split(b" ", 1)[1] for line in stamped] == every
    from orchestrator.kubelet.logformat import parse_stamp

    third = parse_stamp(stamped[2].split(b" ", 1)[0].decode())
    assert (await logs(docker_runtime, state, since=third))[0] == b"line 2\n"
    assert b"".join(await logs(docker_runtime, state, limit_bytes=10)) == b"line 0\nlin"


async def test_a_tail_of_a_running_container_does_not_wait_for_more(
    docker_runtime: DockerRuntime,
) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "import time\nprint('ready')\ntime.sleep(3600)\n"
    state = await run(docker_runtime, sandbox, python(spec, "quiet", code))

    async def said_ready() -> Any:
        return await logs(docker_runtime, state) == [b"ready\n"]

    await eventually_async(said_ready, timeout=20)
    tail = await asyncio.wait_for(logs(docker_runtime, state, tail_lines=3), timeout=10)
    assert tail == [b"ready\n"]


async def test_logs_follow_until_the_container_exits(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "import time\nfor i in range(6):\n    print('tick', i); time.sleep(0.3)\n"
    state = await run(docker_runtime, sandbox, python(spec, "ticker", code))
    followed = await asyncio.wait_for(logs(docker_runtime, state, follow=True), timeout=30)
    assert followed == [f"tick {i}\n".encode() for i in range(6)]


async def test_follow_with_a_tail_shows_each_line_once(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "import time\nfor i in range(10):\n    print('tick', i); time.sleep(0.2)\n"
    state = await run(docker_runtime, sandbox, python(spec, "ticker", code))

    async def some() -> Any:
        return len(await logs(docker_runtime, state)) >= 3

    await eventually_async(some, timeout=20)
    followed = await asyncio.wait_for(
        logs(docker_runtime, state, follow=True, tail_lines=1), timeout=30
    )
    first = int(followed[0].split()[1])
    assert first >= 2 and followed == [f"tick {i}\n".encode() for i in range(first, 10)]


async def test_leaving_a_follow_early_lets_go(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    code = "import time\nwhile True:\n    print('tick', flush=True); time.sleep(0.1)\n"
    state = await run(docker_runtime, sandbox, python(spec, "ticker", code))
    for _ in range(3):
        got = []
        async for line in docker_runtime.logs(state.id, LogOptions(follow=True)):
            got.append(line)
            if len(got) == 2:
                break
        assert got == [b"tick\n", b"tick\n"]


async def test_exec_runs_in_the_container_with_a_deadline(docker_runtime: DockerRuntime) -> None:
    spec = pod()
    sandbox = await docker_runtime.run_sandbox(spec)
    state = await run(
        docker_runtime,
        sandbox,
        python(
            spec, "app", "import time; time.sleep(600)", env=(("WHO", "me"),), working_dir="/tmp"
        ),
    )
    probe = ["python3", "-c", "import os, sys; print(os.environ['WHO'], os.getcwd()); sys.exit(4)"]
    result = await docker_runtime.exec(state.id, probe, timeout=20)
    assert (result.exit_code, result.output, result.timed_out) == (4, b"me /tmp\n", False)
    started = time.monotonic()
    slow = await docker_runtime.exec(state.id, ["sleep", "60"], timeout=1)
    assert slow.timed_out and slow.exit_code == 137 and time.monotonic() - started < 15
    await docker_runtime.stop_container(state.id, 0)
    gone = await docker_runtime.exec(state.id, ["true"], timeout=5)
    assert gone.exit_code != 0


async def test_on_change_reports_the_pod_of_an_exited_container(
    docker_runtime: DockerRuntime,
) -> None:
    spec = pod()
    seen: list[str] = []
    docker_runtime.on_change(seen.append)
    sandbox = await docker_runtime.run_sandbox(spec)
    state = await run(docker_runtime, sandbox, python(spec, "brief", "print('done')"))
    await exited(docker_runtime, state)
    await eventually_async(lambda: asyncio.sleep(0, result=seen.count(spec.pod_uid) >= 2))


async def test_a_restarted_agent_adopts_running_pods(docker_runtimes: MakeRuntime) -> None:
    first = await docker_runtimes("adopt-" + uuid.uuid4().hex[:6])
    spec = pod()
    sandbox = await first.run_sandbox(spec)
    code = "open('index.html', 'w').write('still here');" + SERVE.format(port=8000)
    state = await run(first, sandbox, python(spec, "web", code, working_dir="/srv"))
    url = f"http://{sandbox.ip}:8000/"
    assert await serving(url) == "still here"
    await first.close()

    second = await docker_runtimes(first.node_name)  # same node, same pod CIDR
    assert second.subnet == first.subnet
    assert await second.sandboxes() == [sandbox]
    (adopted,) = await second.containers(spec.pod_uid)
    assert (adopted.id, adopted.status, adopted.started_at) == (
        state.id,
        "running",
        state.started_at,
    )
    assert await serving(url) == "still here"
    assert await second.run_sandbox(spec) == sandbox  # idempotent: the same sandbox
    assert (await second.start_container(sandbox, python(spec, "web", code))).id == state.id


async def test_nodes_do_not_see_each_others_pods(docker_runtimes: MakeRuntime) -> None:
    one, two = await docker_runtimes(), await docker_runtimes()
    spec = pod()
    await one.run_sandbox(spec)
    assert [s.pod_uid for s in await one.sandboxes()] == [spec.pod_uid]
    assert await two.sandboxes() == []


async def test_pods_of_two_nodes_reach_each_other_unmasqueraded(
    docker_runtimes: MakeRuntime,
) -> None:
    """Across two nodes' bridges (the FORWARD policy is the engine's DROP), with the client's
    own pod IP as the source the server sees: nothing masquerades inside the cluster."""
    one, two = await docker_runtimes(), await docker_runtimes()
    server_pod, client_pod = pod("server"), pod("client")
    server = await one.run_sandbox(server_pod)
    code = "open('index.html', 'w').write('across');" + SERVE.format(port=8000)
    web = await run(one, server, python(server_pod, "web", code, working_dir="/srv"))
    await serving(f"http://{server.ip}:8000/")
    client = await two.run_sandbox(client_pod)
    url = f"http://{server.ip}:8000/"
    fetch = f"import urllib.request as u; print(u.urlopen('{url}', timeout=5).read().decode())"
    state = await run(two, client, python(client_pod, "fetch", fetch))
    assert (await exited(two, state)).reason == "Completed"
    assert await logs(two, state) == [b"across\n"]
    access = b"".join(await logs(one, web))  # http.server logs each request's client address
    assert f"{client.ip} - - [".encode() in access


async def test_remove_sandbox_and_purge_leave_nothing(docker_runtimes: MakeRuntime) -> None:
    runtime = await docker_runtimes()
    spec = pod()
    sandbox = await runtime.run_sandbox(spec)
    state = await run(runtime, sandbox, python(spec, "c", "print(1)"))
    await exited(runtime, state)
    await runtime.remove_container(state.id)
    await runtime.remove_container(state.id)  # gone already: nothing
    await runtime.remove_sandbox(spec.pod_uid)
    assert await runtime.sandboxes() == [] and await runtime.containers() == []

    await runtime.run_sandbox(pod())
    assert await runtime.purge() == 1
    await runtime.close()
    purge_node(runtime.node_name)  # again: nothing left to do
    bridge = podnet.bridge_name(runtime.node_name)
    links = await asyncio.to_thread(
        subprocess.run, ["ip", "-o", "link", "show"], capture_output=True, text=True
    )
    assert bridge not in links.stdout
    assert podnet.node_netns(runtime.node_name) == []
    rules = (
        await asyncio.to_thread(subprocess.run, ["iptables", "-S"], capture_output=True, text=True)
    ).stdout
    assert bridge not in rules


async def test_the_network_of_earlier_versions_goes_at_start(docker_runtimes: MakeRuntime) -> None:
    name = "legacy-" + uuid.uuid4().hex[:6]
    client = docker.DockerClient()
    try:
        client.api.create_network(legacy_network_name(name), driver="bridge")
    finally:
        client.close()
    await docker_runtimes(name)
    assert await asyncio.to_thread(_network_exists, legacy_network_name(name)) is False


async def test_removing_a_pod_deletes_no_conntrack_entry(docker_runtimes: MakeRuntime) -> None:
    """The engine, when a container leaves one of its networks, deletes every conntrack entry
    of its address, entry by entry, by tuple: and with it the entry of a new connection that
    reused a deleted flow's ports in between (a client reconnecting to a Service, DNATed to
    another pod). Under load, 1 request in 10,000 to 100,000 hung so in rolling updates. Pods are
    on the node's own bridge now: a pod's flows age out as the kernel has them."""
    runtime = await docker_runtimes()
    going_pod = pod("going")
    going = await runtime.run_sandbox(going_pod)
    code = "open('index.html', 'w').write('up');" + SERVE.format(port=8000)
    await run(runtime, going, python(going_pod, "web", code, working_dir="/srv"))
    await serving(f"http://{going.ip}:8000/")
    for _ in range(5):
        assert await asyncio.to_thread(http_get, f"http://{going.ip}:8000/") == "up"
    before = await asyncio.to_thread(_flows_to, going.ip)
    assert len(before) >= 5, "conntrack does not list the connections"
    for state in await runtime.containers(going_pod.pod_uid):
        await runtime.stop_container(state.id, 0)
    await runtime.remove_sandbox(going_pod.pod_uid)
    after = await asyncio.to_thread(_flows_to, going.ip)
    assert set(before) <= set(after), f"deleted on removal: {sorted(set(before) - set(after))}"


def _flows_to(ip: str) -> list[str]:
    """The source ports of the TCP conntrack entries to ``ip``."""
    listed = subprocess.run(
        ["conntrack", "-L", "-p", "tcp", "-d", ip], capture_output=True, text=True, check=False
    ).stdout
    return sorted(
        line.split(" sport=")[1].split()[0] for line in listed.splitlines() if " sport=" in line
    )


def _network_exists(name: str) -> bool:
    client = docker.DockerClient()
    try:
        return any(n["Name"] == name for n in client.api.networks())
    finally:
        client.close()
