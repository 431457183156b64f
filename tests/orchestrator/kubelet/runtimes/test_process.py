"""The process runtime with real processes: exits, env, logs, stop, exec, adoption.

Tests without the ``root`` marker run the loopback mode without isolation,
as a laptop without root does (and so do they when run as root). Tests marked
``root`` use network namespaces on a bridge, cgroups and PID/mount
namespaces; each picks a pod /24 in 10.201.0.0/16 that nothing routes yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.engines import require_engine
from support.wait import eventually, eventually_async, wait_until

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
    Sandbox,
    SandboxSpec,
)
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.supervise import proc_start_ticks

PY = sys.executable
FAST = dict(exit_poll_interval=0.1, log_follow_interval=0.02)


def loopback_settings(**kw: object) -> ProcessRuntimeSettings:
    return ProcessRuntimeSettings(network="loopback", isolation="off", **FAST, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    rt = ProcessRuntime(tmp_path / "state", f"test-{uuid.uuid4().hex[:8]}", loopback_settings())
    await rt.start("")
    try:
        yield rt
    finally:
        await rt.teardown()


def sandbox_spec(uid: str | None = None, name: str = "pod") -> SandboxSpec:
    return SandboxSpec(
        pod_uid=uid or str(uuid.uuid4()), namespace="default", name=name, hostname=name
    )


def container(sb: Sandbox, name: str, *command: str, attempt: int = 0, **kw) -> ContainerSpec:
    kw.setdefault("image", STACK_IMAGE)
    return ContainerSpec(
        pod_uid=sb.pod_uid,
        namespace=sb.namespace,
        pod_name=sb.name,
        name=name,
        attempt=attempt,
        command=command,
        **kw,
    )


async def wait_exited(rt: ProcessRuntime, cid: str, timeout: float = 10) -> ContainerState:
    async def check() -> ContainerState | None:
        for state in await rt.containers():
            if state.id == cid and state.status == "exited":
                return state
        return None

    return await eventually_async(check, timeout, f"{cid} did not exit")


async def log_text(rt: ProcessRuntime, cid: str, **options) -> str:
    return b"".join([line async for line in rt.logs(cid, LogOptions(**options))]).decode()


async def log_has(rt: ProcessRuntime, cid: str, text: str) -> bool:
    return await log_text(rt, cid) == text


def free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode()
    except OSError:
        return None


# -- exits, env, working dir -----------------------------------------------------------------


async def test_exit_codes_and_reasons_and_change_notification(runtime: ProcessRuntime) -> None:
    changed: list[str] = []
    runtime.on_change(changed.append)
    sb = await runtime.run_sandbox(sandbox_spec())
    ok = await runtime.start_container(sb, container(sb, "ok", "true"))
    bad = await runtime.start_container(sb, container(sb, "bad", "sh", "-c", "exit 3"))
    assert ok.id == f"process://{sb.pod_uid}.ok.0"
    done = await wait_exited(runtime, ok.id)
    failed = await wait_exited(runtime, bad.id)
    assert (done.exit_code, done.reason) == (0, "Completed")
    assert (failed.exit_code, failed.reason) == (3, "Error")
    assert failed.started_at is not None and failed.finished_at is not None
    assert failed.finished_at >= failed.started_at
    await eventually(lambda: changed.count(sb.pod_uid) >= 2)


async def test_env_working_dir_and_sandbox_ip(runtime: ProcessRuntime, tmp_path: Path) -> None:
    sb = await runtime.run_sandbox(sandbox_spec(name="web"))
    assert sb.ip.startswith("127.") and ipaddress.ip_address(sb.ip) in podnet.loopback_range(
        runtime.node_name
    )
    assert (await runtime.run_sandbox(sandbox_spec(sb.pod_uid, "web"))).ip == sb.ip
    other = await runtime.run_sandbox(sandbox_spec())
    assert other.ip != sb.ip
    workdir = tmp_path / "wd"
    workdir.mkdir()
    spec = container(
        sb,
        "c",
        "sh",
        "-c",
        'echo "$GREETING from $(pwd) as $HOSTNAME"',
        env=(("GREETING", "hello"),),
        working_dir=str(workdir),
    )
    state = await runtime.start_container(sb, spec)
    await wait_exited(runtime, state.id)
    assert await log_text(runtime, state.id) == f"hello from {workdir} as web\n"
    # no working dir: a directory of the container's own, kept across restarts
    first = await runtime.start_container(sb, container(sb, "d", "sh", "-c", "pwd; touch mine"))
    await wait_exited(runtime, first.id)
    again = await runtime.start_container(sb, container(sb, "d", "ls", attempt=1))
    await wait_exited(runtime, again.id)
    assert await log_text(runtime, again.id) == "mine\n"
    assert "/work/d" in await log_text(runtime, first.id)


async def test_start_errors_name_the_container_and_the_image(runtime: ProcessRuntime) -> None:
    sb = await runtime.run_sandbox(sandbox_spec())
    with pytest.raises(ContainerStartError) as missing:
        await runtime.start_container(sb, container(sb, "app", "no-such-binary-here"))
    assert missing.value.reason == "RunContainerError"
    assert 'container "app"' in missing.value.message
    assert "executable file not found in $PATH" in missing.value.message
    with pytest.raises(ContainerStartError) as empty:
        await runtime.start_container(sb, container(sb, "idle"))
    assert 'container "idle"' in empty.value.message
    with pytest.raises(ContainerStartError) as nodir:
        await runtime.start_container(sb, container(sb, "w", "true", working_dir="/no/such/dir"))
    assert "/no/such/dir" in nodir.value.message
    assert await runtime.containers(sb.pod_uid) == []
    nginx = container(sb, "web", "nginx", image="nginx:1.25")
    with pytest.raises(ImageError) as pull:
        await runtime.ensure_image(nginx)
    assert pull.value.reason == "ErrImagePull" and "nginx:1.25" in pull.value.message
    slug = "slug:sha256:" + "ab" * 32
    never = container(sb, "s", image=slug, image_pull_policy="Never")
    with pytest.raises(ImageError) as absent:
        await runtime.ensure_image(never)
    assert absent.value.reason == "ErrImageNeverPull" and slug in absent.value.message
    assert await runtime.ensure_image(container(sb, "x", "true")) == "process://" + STACK_IMAGE


async def test_a_slug_runs_its_own_command_in_its_directory(tmp_path: Path) -> None:
    digest = "cd" * 32
    slug = tmp_path / "slugs" / f"sha256-{digest}"
    (slug / "app").mkdir(parents=True)
    (slug / "slug.json").write_text(
        json.dumps(
            {
                "entrypoint": ["sh", "-c"],
                "cmd": ["echo slug in $(pwd) with $WHERE"],
                "env": {"WHERE": "$SLUG_DIR/app"},
                "working_dir": "app",
            }
        )
    )
    rt = ProcessRuntime(
        tmp_path / "state", "slugnode", loopback_settings(slug_dir=tmp_path / "slugs")
    )
    await rt.start("")
    try:
        sb = await rt.run_sandbox(sandbox_spec())
        spec = container(sb, "app", image=f"slug:sha256:{digest}")
        assert await rt.ensure_image(spec) == f"slug:sha256:{digest}"
        state = await rt.start_container(sb, spec)
        await wait_exited(rt, state.id)
        assert await log_text(rt, state.id) == f"slug in {slug}/app with {slug}/app\n"
    finally:
        await rt.teardown()


# -- logs ------------------------------------------------------------------------------------


async def test_logs_tail_timestamps_and_follow_until_exit(runtime: ProcessRuntime) -> None:
    sb = await runtime.run_sandbox(sandbox_spec())
    script = "for i in 1 2 3; do echo line$i; done; echo oops >&2; sleep 0.3; echo late; exit 1"
    state = await runtime.start_container(sb, container(sb, "c", "bash", "-c", script))
    followed = [line async for line in runtime.logs(state.id, LogOptions(follow=True))]
    assert followed == [b"line1\n", b"line2\n", b"line3\n", b"oops\n", b"late\n"]
    assert (await wait_exited(runtime, state.id)).exit_code == 1
    assert await log_text(runtime, state.id, tail_lines=2) == "oops\nlate\n"
    stamped = await log_text(runtime, state.id, tail_lines=1, timestamps=True)
    assert stamped.endswith("Z late\n") and stamped.startswith("20")


async def test_logs_rotate_by_size(tmp_path: Path) -> None:
    settings = loopback_settings(log_max_bytes=4096, log_max_files=3)
    rt = ProcessRuntime(tmp_path / "state", "rotnode", settings)
    await rt.start("")
    try:
        sb = await rt.run_sandbox(sandbox_spec())
        script = "for i in $(seq 1 2000); do echo line-$i; done"
        state = await rt.start_container(sb, container(sb, "c", "bash", "-c", script))
        await wait_exited(rt, state.id)
        cdir = tmp_path / "state" / "pods" / sb.pod_uid / "containers" / "c.0"
        files = sorted(p.name for p in cdir.glob("container.log*"))
        assert files == ["container.log", "container.log.1", "container.log.2"]
        assert all(p.stat().st_size <= 4096 for p in cdir.glob("container.log*"))
        lines = (await log_text(rt, state.id)).splitlines()
        assert lines[-1] == "line-2000"
        first = int(lines[0].split("-")[1])
        assert lines == [f"line-{i}" for i in range(first, 2001)]
    finally:
        await rt.teardown()


# -- stop ------------------------------------------------------------------------------------


async def test_stop_sends_sigterm_and_kills_after_the_grace(runtime: ProcessRuntime) -> None:
    sb = await runtime.run_sandbox(sandbox_spec())
    polite = "trap 'echo bye; exit 0' TERM; echo up; sleep 60 & wait"
    stubborn = "trap '' TERM; echo up; while :; do sleep 0.05; done"
    a = await runtime.start_container(sb, container(sb, "polite", "sh", "-c", polite))
    b = await runtime.start_container(sb, container(sb, "stubborn", "sh", "-c", stubborn))
    for cid in (a.id, b.id):
        await eventually_async(lambda cid=cid: log_text(runtime, cid), message="no output")
    began = time.monotonic()
    await runtime.stop_container(a.id, grace_seconds=30)
    assert time.monotonic() - began < 5
    stopped = (await runtime.containers(sb.pod_uid))[0]
    assert (stopped.name, stopped.status, stopped.exit_code) == ("polite", "exited", 0)
    assert await log_text(runtime, a.id) == "up\nbye\n"
    began = time.monotonic()
    await runtime.stop_container(b.id, grace_seconds=0.5)
    assert time.monotonic() - began >= 0.5
    killed = await wait_exited(runtime, b.id)
    assert (killed.exit_code, killed.reason) == (137, "Error")
    await runtime.stop_container(b.id, grace_seconds=1)  # stopping again does nothing
    await runtime.remove_container(b.id)
    assert [c.name for c in await runtime.containers(sb.pod_uid)] == ["polite"]


async def test_leftover_children_end_with_the_container(runtime: ProcessRuntime) -> None:
    sb = await runtime.run_sandbox(sandbox_spec())
    script = "sleep 300 & echo $!; exit 0"
    state = await runtime.start_container(sb, container(sb, "c", "sh", "-c", script))
    await wait_exited(runtime, state.id)
    child = int((await log_text(runtime, state.id)).strip())
    wait_until(lambda: proc_start_ticks(child) is None or _zombie(child), 5, "child lives on")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# -- networking (loopback) --------------------------------------------------------------------


async def test_containers_of_a_pod_reach_each_other_on_the_pod_ip(
    runtime: ProcessRuntime,
) -> None:
    sb = await runtime.run_sandbox(sandbox_spec())
    port = free_port(sb.ip)
    server = container(sb, "server", PY, "-m", "http.server", "--bind", sb.ip, str(port))
    await runtime.start_container(sb, server)
    fetch = (
        "import sys, time, urllib.request\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        print(urllib.request.urlopen(sys.argv[1], timeout=1).status); break\n"
        "    except OSError: time.sleep(0.05)\n"
    )
    client = container(sb, "client", PY, "-c", fetch, f"http://{sb.ip}:{port}/")
    state = await runtime.start_container(sb, client)
    await wait_exited(runtime, state.id, timeout=20)
    assert await log_text(runtime, state.id) == "200\n"


# -- exec ------------------------------------------------------------------------------------


async def test_exec_runs_with_the_container_env_and_dir_and_times_out(
    runtime: ProcessRuntime,
) -> None:
    sb = await runtime.run_sandbox(sandbox_spec())
    spec = container(sb, "c", "sleep", "60", env=(("COLOR", "blue"),))
    state = await runtime.start_container(sb, spec)
    result = await runtime.exec(state.id, ["sh", "-c", "echo $COLOR; pwd; exit 4"], timeout=5)
    assert result.exit_code == 4 and not result.timed_out
    assert result.output.decode().splitlines()[0] == "blue"
    assert result.output.decode().splitlines()[1].endswith("/work/c")
    slow = await runtime.exec(state.id, ["sleep", "30"], timeout=0.3)
    assert slow.timed_out
    missing = await runtime.exec(state.id, ["no-such-binary-here"], timeout=5)
    assert missing.exit_code == 127
    big = await runtime.exec(state.id, ["head", "-c", "1000000", "/dev/zero"], timeout=5)
    assert big.exit_code == 0 and len(big.output) == runtime.settings.exec_output_limit


# -- adoption ------------------------------------------------------------------------------------


async def test_a_new_runtime_adopts_running_containers(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = ProcessRuntime(state_dir, "adopter", loopback_settings())
    await first.start("")
    sb = await first.run_sandbox(sandbox_spec())
    state = await first.start_container(sb, container(sb, "c", "sh", "-c", "echo hi; sleep 60"))
    pid = json.loads((state_dir / "pods" / sb.pod_uid / "containers/c.0/pid.json").read_text())
    # the app has run (a SIGTERM before sh reaches `echo` would leave an empty log)
    await eventually_async(lambda: log_has(first, state.id, "hi\n"), message="the app's output")
    await first.close()
    second = ProcessRuntime(state_dir, "adopter", loopback_settings())
    changed: list[str] = []
    second.on_change(changed.append)
    await second.start("")
    try:
        assert [s.ip for s in await second.sandboxes()] == [sb.ip]
        [seen] = await second.containers()
        assert (seen.id, seen.status, seen.started_at) == (state.id, "running", state.started_at)
        assert proc_start_ticks(pid["pid"]) == pid["pid_start"]  # the same process, never restarted
        await second.stop_container(seen.id, grace_seconds=5)
        assert (await wait_exited(second, seen.id)).exit_code == 143
        await eventually(lambda: changed == [sb.pod_uid])
        assert await log_text(second, seen.id) == "hi\n"
    finally:
        await second.teardown()


OWNER = """
import asyncio, sys
from pathlib import Path
from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, SandboxSpec
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings

async def main():
    rt = ProcessRuntime(Path(sys.argv[1]), "owner", ProcessRuntimeSettings(
        network=sys.argv[2], isolation="auto" if sys.argv[2] == "root" else "off"))
    await rt.start(sys.argv[3])
    sb = await rt.run_sandbox(SandboxSpec("u-owner", "default", "p", "p"))
    spec = ContainerSpec("u-owner", "default", "p", "c", 0, STACK_IMAGE,
                         command=("sh", "-c", "while :; do echo tick; sleep 0.05; done"))
    state = await rt.start_container(sb, spec)
    print(state.id, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def start_owner(state_dir: Path, network: str, cidr: str) -> subprocess.Popen[str]:
    """A process that owns a runtime, starts one container, then idles (to be SIGKILLed)."""
    return subprocess.Popen(
        [PY, "-c", OWNER, str(state_dir), network, cidr],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[4],
    )


async def owner_killed_leaves_container_running(tmp_path: Path, network: str, cidr: str) -> None:
    state_dir = tmp_path / "state"
    owner = start_owner(state_dir, network, cidr)
    settings = loopback_settings() if network == "loopback" else root_settings()
    rt = ProcessRuntime(state_dir, "owner", settings)
    try:
        assert owner.stdout is not None
        cid = await asyncio.wait_for(asyncio.to_thread(owner.stdout.readline), 30)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        await rt.start(cidr)
        [state] = await rt.containers()
        assert (state.id, state.status) == (cid.strip(), "running")
        size = len(await log_text(rt, state.id))
        await eventually_async(lambda: _grew(rt, state.id, size), message="no more output")
        await rt.stop_container(state.id, grace_seconds=5)
        assert (await wait_exited(rt, state.id)).status == "exited"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
        await rt.teardown()


async def _grew(rt: ProcessRuntime, cid: str, size: int) -> bool:
    return len(await log_text(rt, cid)) > size


async def test_sigkill_of_the_owner_leaves_the_container_running(tmp_path: Path) -> None:
    await owner_killed_leaves_container_running(tmp_path, "loopback", "")


# -- root mode -------------------------------------------------------------------------------


def root_settings(**kw: object) -> ProcessRuntimeSettings:
    return ProcessRuntimeSettings(network="root", **FAST, **kw)  # type: ignore[arg-type]


def free_pod_cidr() -> str:
    """A /24 of 10.201.0.0/16 that no route or interface uses yet."""
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    addrs = subprocess.run(["ip", "-4", "addr", "show"], capture_output=True, text=True).stdout
    used = routes + addrs
    for _ in range(500):
        third = int.from_bytes(os.urandom(1), "big")
        if third and f"10.201.{third}." not in used:
            return f"10.201.{third}.0/24"
    raise AssertionError("no free /24 in 10.201.0.0/16")


@pytest.fixture
async def root_runtime(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    require_engine("root", os.geteuid() == 0, "needs root (netns, bridge, cgroups)")
    rt = ProcessRuntime(tmp_path / "state", f"rt-{uuid.uuid4().hex[:8]}", root_settings())
    await rt.start(free_pod_cidr())
    try:
        yield rt
    finally:
        await rt.teardown()


@pytest.mark.root
async def test_root_mode_pods_bind_the_same_port_and_answer_at_their_ip(
    root_runtime: ProcessRuntime,
) -> None:
    rt = root_runtime
    assert rt.limitations == ()
    pods = [await rt.run_sandbox(sandbox_spec(name=f"web{i}")) for i in range(2)]
    for i, sb in enumerate(pods):
        assert podnet.netns_name(rt.node_name, sb.pod_uid) in rt_netns(rt)
        script = (
            "import http.server, socketserver\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            f"        body = b'pod{i}'\n"
            "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
            "socketserver.TCPServer.allow_reuse_address = True\n"
            "http.server.HTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"
        )
        await rt.start_container(sb, container(sb, "web", PY, "-c", script))
    for i, sb in enumerate(pods):
        body = await eventually_async(
            lambda sb=sb: asyncio.to_thread(http_get, f"http://{sb.ip}:8080/"),
            timeout=20,
            message=f"pod {i} does not answer at {sb.ip}:8080",
        )
        assert body == f"pod{i}"
    # the second container of a pod reaches the first on localhost
    fetch = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/').read())"
    sb = pods[1]
    state = await rt.start_container(sb, container(sb, "client", PY, "-c", fetch))
    await wait_exited(rt, state.id)
    assert await log_text(rt, state.id) == "b'pod1'\n"
    # and pods reach each other across the bridge
    other = (
        f"import urllib.request; print(urllib.request.urlopen('http://{pods[0].ip}:8080/').read())"
    )
    state = await rt.start_container(sb, container(sb, "client2", PY, "-c", other))
    await wait_exited(rt, state.id)
    assert await log_text(rt, state.id) == "b'pod0'\n"


def rt_netns(rt: ProcessRuntime) -> list[str]:
    return podnet.node_netns(rt.node_name)


@pytest.mark.root
async def test_root_mode_pod_sees_its_resolv_conf_hostname_and_volumes(
    root_runtime: ProcessRuntime, tmp_path: Path
) -> None:
    rt = root_runtime
    pod = SandboxSpec(
        pod_uid=str(uuid.uuid4()),
        namespace="default",
        name="dnspod",
        hostname="dnspod",
        dns=DNSConfig(nameservers=("10.96.0.10",), searches=("default.svc.cluster.local",)),
    )
    sb = await rt.run_sandbox(pod)
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "key").write_text("value")
    script = (
        "cat /etc/resolv.conf; hostname; cat /paas-test-config/key; echo; echo $$; "
        "touch /paas-test-config/x"
    )
    mounts = (Mount(str(volume), "/paas-test-config", read_only=True),)
    spec = container(sb, "c", "sh", "-c", script, mounts=mounts, working_dir="/paas-test-config")
    try:
        state = await rt.start_container(sb, spec)
        await wait_exited(rt, state.id)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir("/paas-test-config")  # the mount point made on the node's filesystem
    out = await log_text(rt, state.id)
    assert "nameserver 10.96.0.10\nsearch default.svc.cluster.local\n" in out
    assert "dnspod\nvalue\n" in out
    assert "\n2\n" in out  # pid 2 of the pod's PID namespace, under our init
    assert "Read-only file system" in out
    assert "dnspod" not in await asyncio.to_thread(Path("/etc/hosts").read_text)  # the node's own


@pytest.mark.root
async def test_root_mode_memory_limit_ends_in_oomkilled(root_runtime: ProcessRuntime) -> None:
    rt = root_runtime
    sb = await rt.run_sandbox(sandbox_spec())
    hog = "x = bytearray(300 * 1024 * 1024); print('survived')"
    spec = container(sb, "hog", PY, "-c", hog, limits=Limits(memory_bytes=64 * 1024 * 1024))
    state = await rt.start_container(sb, spec)
    ended = await wait_exited(rt, state.id, timeout=30)
    assert (ended.reason, ended.exit_code) == ("OOMKilled", 137)
    fine = await rt.start_container(
        sb, container(sb, "fine", PY, "-c", "print('ok')", limits=Limits(memory_bytes=64 << 20))
    )
    assert (await wait_exited(rt, fine.id)).reason == "Completed"


@pytest.mark.root
async def test_root_mode_stop_exec_and_adoption(root_runtime: ProcessRuntime) -> None:
    rt = root_runtime
    sb = await rt.run_sandbox(sandbox_spec())
    server = f"{PY} -m http.server 8080 --bind 0.0.0.0"
    state = await rt.start_container(
        sb, container(sb, "web", "sh", "-c", server, env=(("COLOR", "red"),))
    )
    probe = ["sh", "-c", "echo $COLOR $(hostname); ip -4 -o addr show eth0 | wc -l; echo $$"]
    result = await rt.exec(state.id, probe, timeout=10)
    lines = result.output.decode().split()
    assert result.exit_code == 0 and lines[:3] == ["red", "pod", "1"]
    assert int(lines[3]) > 2  # a pid inside the pod's PID namespace
    await rt.close()
    adopted = ProcessRuntime(rt.state_dir, rt.node_name, root_settings())
    await adopted.start(str(rt.network.pool()))
    assert podnet.netns_name(rt.node_name, sb.pod_uid) in rt_netns(rt)  # not cleaned up
    [seen] = await adopted.containers()
    assert seen.status == "running"
    await eventually_async(
        lambda: asyncio.to_thread(http_get, f"http://{sb.ip}:8080/"),
        timeout=20,
        message="the adopted server does not answer",
    )
    began = time.monotonic()
    await adopted.stop_container(seen.id, grace_seconds=10)
    assert time.monotonic() - began < 5  # SIGTERM reached the app through our init
    await adopted.close()


@pytest.mark.root
async def test_root_mode_sigkill_of_the_owner_leaves_the_container_running(
    tmp_path: Path,
) -> None:
    require_engine("root", os.geteuid() == 0, "needs root")
    await owner_killed_leaves_container_running(tmp_path, "root", free_pod_cidr())
