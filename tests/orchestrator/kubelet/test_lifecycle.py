"""The pod lifecycle on a real node agent, run against both runtimes (process and docker).

Each test starts a ``Kubelet`` in-process (``support.kubelet``) on a node of
its own, against a real API server, and creates pods bound to that node. The
apps are small Python HTTP servers on the stack image, reached at their pod
IPs the way the Endpoints controller publishes them; the assertions are what
a user sees: pod status, events, answers over HTTP, files written.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import start_api
from support.controlplane import controllers
from support.kubelet import (
    RUNTIMES,
    KubeletNode,
    container_status,
    is_ready,
    kubelet_node_for,
)
from support.wait import eventually_async

from orchestrator.api.conditions import condition_of
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.endpoints import EndpointsController
from orchestrator.kubelet.runtimes.base import STACK_IMAGE

CONFIGMAPS = BUILTIN_TYPES.require("", "ConfigMap")
SECRETS = BUILTIN_TYPES.require("", "Secret")
SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")
PODS = BUILTIN_TYPES.require("", "Pod")
NAMESPACES = BUILTIN_TYPES.require("", "Namespace")

# An app for every test: serves its env, files, a token made at start, readiness it can be
# told to flip, health that fails after HEALTHY_FOR seconds, and a proxy to localhost ports.
APP = r"""
import http.server, json, os, signal, sys, time, urllib.request
started = time.time()
token = os.urandom(8).hex()
state = {"ready": os.environ.get("START_READY", "1") == "1"}
out = os.environ.get("EVENTS_FILE")
def note(what):
    if out:
        with open(out, "a") as f:
            f.write(f"{what} {time.time():.3f}\n")
def on_term(signum, frame):
    note("sigterm")
    if os.environ.get("IGNORE_TERM") != "1":
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = 200, ""
        if self.path == "/env":
            body = json.dumps(dict(os.environ))
        elif self.path.startswith("/file/"):
            try:
                body = open(self.path[len("/file"):]).read()
            except OSError as exc:
                code, body = 404, str(exc)
        elif self.path == "/token":
            body = token
        elif self.path == "/prestop":
            note("prestop-http")
        elif self.path == "/ready":
            code = 200 if state["ready"] else 503
        elif self.path == "/toggle":
            state["ready"] = not state["ready"]
            body = str(state["ready"])
        elif self.path == "/healthz":
            healthy = time.time() - started < float(os.environ.get("HEALTHY_FOR", "1e9"))
            code = 200 if healthy else 500
        elif self.path.startswith("/proxy/"):
            port, _, rest = self.path[len("/proxy/"):].partition("/")
            with urllib.request.urlopen(f"http://localhost:{port}/{rest}", timeout=5) as r:
                body = r.read().decode()
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
note("started")
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
"""


def app(name: str = "app", port: int = 8080, **extra: Any) -> Obj:
    env = extra.pop("env", [])
    return {
        "name": name,
        "image": STACK_IMAGE,
        "command": ["python3", "-c", APP],
        "ports": [{"containerPort": port, "name": "http" if name == "app" else name[:15]}],
        "env": env,
        **extra,
    }


def http_get(url: str, timeout: float = 3.0) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (OSError, http.client.HTTPException):  # refused, or cut off as the app was killed
        return None


async def get(url: str, timeout: float = 3.0) -> tuple[int, str] | None:
    return await asyncio.to_thread(http_get, url, timeout)


async def serving(url: str, timeout: float = 30.0) -> str:
    """The body of the first 200 answer from ``url``."""

    async def check() -> str | None:
        reply = await get(url)
        return reply[1] if reply and reply[0] == 200 else None

    return await eventually_async(check, timeout, f"{url} never answered 200")


def pod_url(pod: Obj, path: str, port: int = 8080) -> str:
    return f"http://{pod['status']['podIP']}:{port}{path}"


def manifest(name: str, *containers: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": {"containers": list(containers), **spec}}


# -- env, config, networking ----------------------------------------------------------------


async def test_env_config_map_and_secret_reach_the_app(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    await node.client.create(
        CONFIGMAPS,
        {
            "metadata": {"name": "settings"},
            "data": {"greeting": "hello", "app.conf": "mode=fast\n"},
        },
        "default",
    )
    await node.client.create(
        SECRETS,
        {"metadata": {"name": "creds"}, "data": {"password": base64.b64encode(b"s3cret").decode()}},
        "default",
    )
    await node.client.create(
        SERVICES,
        {"metadata": {"name": "backend-db"}, "spec": {"ports": [{"port": 5432}]}},
        "default",
    )
    env = [
        {
            "name": "GREETING",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}},
        },
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "MESSAGE", "value": "$(GREETING) from $(POD_NAME)"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    container = app(
        env=env,
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        volumeMounts=[
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "secret", "mountPath": "/etc/secret", "readOnly": True},
        ],
    )
    volumes = [
        {"name": "config", "configMap": {"name": "settings"}},
        {"name": "secret", "secret": {"secretName": "creds"}},
    ]
    await node.create_pod(manifest("envy", container, volumes=volumes))
    pod = await node.wait_running("envy")
    seen = json.loads(await serving(pod_url(pod, "/env")))
    assert seen["GREETING"] == "hello"
    assert seen["PASSWORD"] == "s3cret"
    assert seen["MESSAGE"] == "hello from $(POD_NAME)"  # defined later: left as written
    assert seen["POD_NAME"] == "envy"
    assert seen["POD_IP"] == pod["status"]["podIP"] == seen["HOST"]
    assert seen["NODE"] == node.name
    assert seen["PORT"] == "8080"
    assert seen["CFG_app.conf"] == "mode=fast\n"
    assert seen["BACKEND_DB_SERVICE_PORT"] == "5432"
    assert seen["BACKEND_DB_SERVICE_HOST"]
    assert await serving(pod_url(pod, "/file/etc/app/app.conf")) == "mode=fast\n"
    assert await serving(pod_url(pod, "/file/etc/secret/password")) == "s3cret"


async def test_containers_of_a_pod_reach_each_other_on_localhost(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    await node.create_pod(manifest("duo", app("front", 8080), app("back", 9090)))
    pod = await node.wait_running("duo")
    token = await serving(pod_url(pod, "/token", 9090))
    assert await serving(pod_url(pod, "/proxy/9090/token")) == token


async def allow_host_access(node: KubeletNode) -> None:
    """Pod Security's default baseline refuses hostPort and hostPath: label as Kubernetes does."""
    labels = {"pod-security.kubernetes.io/enforce": "privileged"}
    await node.client.patch(NAMESPACES, "default", {"metadata": {"labels": labels}})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


async def test_a_host_port_publishes_the_pod_on_the_node(kubelet_node: KubeletNode) -> None:
    """hostPort: the node's own address answers for the pod, across an agent restart, until
    the pod goes (the engine publishes it on Docker; kernel DNAT on the process runtime)."""
    node = kubelet_node
    await allow_host_access(node)
    port = free_port()
    container = app()
    container["ports"][0]["hostPort"] = port
    await node.create_pod(manifest("published", container))
    pod = await node.wait_running("published")
    token = await serving(pod_url(pod, "/token"))
    assert await serving(f"http://127.0.0.1:{port}/token") == token
    await node.stop()
    await node.start()
    assert await serving(f"http://127.0.0.1:{port}/token") == token
    await node.client.delete(PODS, "published", "default", grace_period_seconds=0)

    async def unpublished() -> bool:
        return await get(f"http://127.0.0.1:{port}/token", timeout=1) is None

    await eventually_async(unpublished, 30, f"127.0.0.1:{port} still answers after the pod went")


async def test_missing_config_is_named_then_the_pod_starts_when_it_appears(
    kubelet_node: KubeletNode,
) -> None:
    node = kubelet_node
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "mode"}}}]
    await node.create_pod(manifest("waits", app(env=env)))

    def config_error(pod: Obj) -> bool:
        waiting = container_status(pod, "app").get("state", {}).get("waiting", {})
        return waiting.get("reason") == "CreateContainerConfigError"

    pod = await node.wait_pod("waits", config_error)
    assert (
        'configmap "late" not found' in container_status(pod, "app")["state"]["waiting"]["message"]
    )
    await node.client.create(
        CONFIGMAPS, {"metadata": {"name": "late"}, "data": {"mode": "m"}}, "default"
    )
    pod = await node.wait_running("waits")
    assert json.loads(await serving(pod_url(pod, "/env")))["MODE"] == "m"


async def test_a_missing_image_is_named_in_the_waiting_reason(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    container = {"name": "app", "image": "paas/absent:1", "imagePullPolicy": "Never"}
    await node.create_pod(manifest("noimage", container))

    def never_pull(pod: Obj) -> bool:
        waiting = container_status(pod, "app").get("state", {}).get("waiting", {})
        return waiting.get("reason") == "ErrImageNeverPull"

    pod = await node.wait_pod("noimage", never_pull)
    assert "paas/absent:1" in container_status(pod, "app")["state"]["waiting"]["message"]
    assert pod["status"]["phase"] == "Pending"


# -- init containers, exits, restarts -------------------------------------------------------


async def test_init_containers_run_in_order_before_the_app(kubelet_node: KubeletNode) -> None:
    node = kubelet_node

    def step(name: str) -> Obj:
        return {
            "name": name,
            "image": STACK_IMAGE,
            "command": ["sh", "-c", f"echo {name} >> /work/order; sleep 0.3"],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        }

    container = app(volumeMounts=[{"name": "work", "mountPath": "/work"}])
    spec = {
        "initContainers": [step("first"), step("second")],
        "volumes": [{"name": "work", "emptyDir": {}}],
    }
    await node.create_pod(manifest("inits", container, **spec))
    pod = await node.wait_running("inits")
    assert await serving(pod_url(pod, "/file/work/order")) == "first\nsecond\n"
    for name in ("first", "second"):
        status = container_status(pod, name, init=True)
        assert status["state"]["terminated"]["reason"] == "Completed"
        assert status["ready"] is True
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["Initialized"] == conditions["Ready"] == "True"


async def test_restart_policy_never_ends_the_pod(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    ok = {"name": "job", "image": STACK_IMAGE, "command": ["sh", "-c", "echo done"]}
    bad = {"name": "job", "image": STACK_IMAGE, "command": ["sh", "-c", "exit 3"]}
    await node.create_pod(manifest("fine", ok, restartPolicy="Never"))
    await node.create_pod(manifest("broken", bad, restartPolicy="Never"))
    fine = await node.wait_pod("fine", lambda p: p["status"].get("phase") == "Succeeded")
    assert container_status(fine, "job")["state"]["terminated"]["reason"] == "Completed"
    broken = await node.wait_pod("broken", lambda p: p["status"].get("phase") == "Failed")
    terminated = container_status(broken, "job")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert container_status(broken, "job")["restartCount"] == 0


async def test_active_deadline_fails_the_pod_and_stops_it(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    await node.create_pod(manifest("bounded", app(), activeDeadlineSeconds=3))
    pod = await node.wait_running("bounded")
    await serving(pod_url(pod, "/token"))

    async def failed() -> Obj | None:
        found = await node.pod("bounded")
        return found if found and found["status"].get("phase") == "Failed" else None

    done = await eventually_async(failed, 30, "the pod never failed past its deadline")
    assert done["status"]["reason"] == "DeadlineExceeded"
    assert "longer than the specified deadline" in done["status"]["message"]
    ready = condition_of(done, "Ready")  # turned False when the deadline passed, not before
    started = datetime.fromisoformat(done["status"]["startTime"].replace("Z", "+00:00"))
    assert ready is not None and ready["status"] == "False"
    turned = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00"))
    assert turned >= started + timedelta(seconds=3)

    async def stopped() -> Obj | None:
        found = await node.pod("bounded")
        state = container_status(found, "app")["state"] if found else {}
        return found if "terminated" in state else None

    await eventually_async(stopped, 30, "the container still runs past the deadline")
    assert await get(pod_url(pod, "/token"), timeout=1) is None


async def test_crash_loop_back_off_doubles(kubelet_node: KubeletNode) -> None:
    """Base 1 s, cap 4 s (the test settings): restarts come 0, 1, 2, 4, 4 s after each exit."""
    node = kubelet_node
    crash = {"name": "crash", "image": STACK_IMAGE, "command": ["sh", "-c", "exit 1"]}
    created = await node.create_pod(manifest("crashy", crash))
    uid = created["metadata"]["uid"]
    seen: dict[int, Any] = {}

    async def five_attempts() -> bool:
        for state in await node.runtime.containers(uid):
            seen.setdefault(state.attempt, state)
            if state.status == "exited":
                seen[state.attempt] = state
        return len([a for a, s in seen.items() if s.status == "exited"]) >= 5

    await eventually_async(five_attempts, 40)
    gaps = [(seen[n + 1].started_at - seen[n].finished_at).total_seconds() for n in range(4)]
    for gap, expected in zip(gaps, (0, 1, 2, 4), strict=True):
        assert expected - 0.2 <= gap <= expected + 1.5, (gaps, seen)

    def backing_off(pod: Obj) -> bool:
        status = container_status(pod, "crash")
        waiting = status.get("state", {}).get("waiting", {})
        return waiting.get("reason") == "CrashLoopBackOff" and status["restartCount"] >= 4

    pod = await node.wait_pod("crashy", backing_off)
    status = container_status(pod, "crash")
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert pod["status"]["phase"] == "Running"
    reasons = {e["reason"] for e in await node.events("crashy")}
    assert {"Created", "Started", "BackOff"} <= reasons


async def test_memory_limit_ends_the_container_oomkilled(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    if node.kind == "process" and getattr(node.runtime, "cgroups", None) is None:
        pytest.skip("the process runtime enforces memory limits only as root with cgroups")
    hog = {
        "name": "hog",
        "image": STACK_IMAGE,
        "command": ["python3", "-c", "import time; b = b'x' * (300 * 1024 * 1024); time.sleep(60)"],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    await node.create_pod(manifest("hog", hog, restartPolicy="Never"))
    pod = await node.wait_pod("hog", lambda p: p["status"].get("phase") == "Failed", 60)
    terminated = container_status(pod, "hog")["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled"


# -- probes --------------------------------------------------------------------------------


async def test_liveness_failure_restarts_the_container(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    probe = {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": 1,
        "failureThreshold": 2,
    }
    container = app(env=[{"name": "HEALTHY_FOR", "value": "2"}], livenessProbe=probe)
    await node.create_pod(manifest("sickly", container))
    pod = await node.wait_pod(
        "sickly", lambda p: container_status(p, "app").get("restartCount", 0) >= 1, 40
    )
    assert container_status(pod, "app")["lastState"]["terminated"]["finishedAt"]
    events = await node.events("sickly")
    messages = [e["message"] for e in events]
    assert any(
        m.startswith("Liveness probe failed: HTTP probe failed with statuscode: 500")
        for m in messages
    )
    assert "Container app failed liveness probe, will be restarted" in messages


async def test_readiness_moves_the_pod_between_endpoint_lists(
    kubelet_node: KubeletNode,
) -> None:
    node = kubelet_node
    probe = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}
    container = app(env=[{"name": "START_READY", "value": "0"}], readinessProbe=probe)
    async with controllers(node.api, EndpointsController):
        await node.client.create(
            SERVICES,
            {
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
            "default",
        )
        body = manifest("web-1", container)
        body["metadata"]["labels"] = {"app": "web"}
        await node.create_pod(body)

        async def addresses(kind: str) -> list[str]:
            try:
                ep = await node.client.get(ENDPOINTS, "web", "default")
            except Exception:
                return []
            return [a["ip"] for s in ep.get("subsets") or [] for a in s.get(kind) or []]

        pod = await node.wait_pod(
            "web-1",
            lambda p: p["status"].get("podIP") and container_status(p, "app").get("started"),
        )
        ip = pod["status"]["podIP"]
        await serving(pod_url(pod, "/token"))
        await eventually_async(lambda: _has(addresses("notReadyAddresses"), ip), 20)
        assert not is_ready(await node.pod("web-1") or {})
        assert (await get(pod_url(pod, "/toggle")))[1] == "True"  # type: ignore[index]
        await eventually_async(lambda: _has(addresses("addresses"), ip), 20)
        assert (await get(pod_url(pod, "/toggle")))[1] == "False"  # type: ignore[index]
        await eventually_async(lambda: _has(addresses("notReadyAddresses"), ip), 20)


async def _has(items: Any, value: str) -> bool:
    return value in await items


# -- termination ---------------------------------------------------------------------------


async def test_graceful_termination_runs_prestop_then_sigterm_then_sigkill(
    kubelet_node: KubeletNode, tmp_path: Path
) -> None:
    node = kubelet_node
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    container = app(
        env=[
            {"name": "EVENTS_FILE", "value": "/out/events"},
            {"name": "IGNORE_TERM", "value": "1"},
        ],
        volumeMounts=[{"name": "out", "mountPath": "/out"}],
        lifecycle={
            "preStop": {
                "exec": {"command": ["sh", "-c", "echo prestop $(date +%s.%N) >> /out/events"]}
            }
        },
    )
    spec = {
        "volumes": [{"name": "out", "hostPath": {"path": str(out)}}],
        "terminationGracePeriodSeconds": 3,
    }
    await allow_host_access(node)
    await node.create_pod(manifest("graceful", container, **spec))
    pod = await node.wait_running("graceful")
    await serving(pod_url(pod, "/token"))
    began = time.monotonic()
    await node.client.delete(PODS, "graceful", "default")
    await eventually_async(lambda: _gone(node, "graceful"), 30)
    took = time.monotonic() - began
    lines = (out / "events").read_text().split()
    names = lines[0::2]
    assert names == ["started", "prestop", "sigterm"], lines
    stamps = [float(s) for s in lines[1::2]]
    assert stamps[1] <= stamps[2]
    assert 2.5 <= took <= 10, took  # the app ignored SIGTERM: SIGKILL came after the grace
    assert await get(pod_url(pod, "/token"), 1) is None
    assert not await node.runtime.containers(pod["metadata"]["uid"])


async def test_an_http_prestop_hook_runs_before_sigterm(
    kubelet_node: KubeletNode, tmp_path: Path
) -> None:
    node = kubelet_node
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    container = app(
        env=[{"name": "EVENTS_FILE", "value": "/out/events"}],
        volumeMounts=[{"name": "out", "mountPath": "/out"}],
        lifecycle={"preStop": {"httpGet": {"path": "/prestop", "port": "http"}}},
    )
    spec = {"volumes": [{"name": "out", "hostPath": {"path": str(out)}}]}
    await allow_host_access(node)
    await node.create_pod(manifest("hooked", container, **spec))
    pod = await node.wait_running("hooked")
    await serving(pod_url(pod, "/token"))
    began = time.monotonic()
    await node.client.delete(PODS, "hooked", "default")
    await eventually_async(lambda: _gone(node, "hooked"), 30)
    assert time.monotonic() - began < 10  # the app left on SIGTERM: no wait for the 30 s grace
    assert (out / "events").read_text().split()[0::2] == ["started", "prestop-http", "sigterm"]


async def _gone(node: KubeletNode, name: str) -> bool:
    return await node.pod(name) is None


# -- the agent and the API server going away -------------------------------------------------


async def test_a_restarted_agent_adopts_running_pods(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    probe = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5}
    await node.create_pod(manifest("steady", app(readinessProbe=probe)))
    await node.create_pod(manifest("doomed", app()))
    pod = await node.wait_running("steady")
    doomed = await node.wait_running("doomed")
    token = await serving(pod_url(pod, "/token"))
    container_id = container_status(pod, "app")["containerID"]
    ready_since = condition_of(pod, "Ready")
    await node.stop()
    assert await serving(pod_url(pod, "/token")) == token  # no agent: the app still serves
    await node.client.delete(PODS, "doomed", "default", grace_period_seconds=0)
    await node.start()
    doomed_uid = doomed["metadata"]["uid"]

    async def doomed_cleaned() -> bool:
        return not await node.runtime.containers(doomed_uid)

    await eventually_async(doomed_cleaned, 30)  # the new agent has been through its pods
    kept = await node.pod("steady")
    assert kept is not None
    status = container_status(kept, "app")
    assert (status["containerID"], status["restartCount"], status["ready"]) == (
        container_id,
        0,
        True,
    )
    # Ready all along: the readiness probe's first run after the restart is 5 s away.
    assert ready_since is not None and condition_of(kept, "Ready") == ready_since
    assert await serving(pod_url(pod, "/token")) == token  # the very same process


@pytest.mark.parametrize("kind", RUNTIMES)
async def test_pods_serve_while_the_api_server_is_down(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    api = start_api(tmp_path / "api", "sqlite")
    try:
        async with kubelet_node_for(request, api, kind, tmp_path) as node:
            ticker = {
                "name": "ticker",
                "image": STACK_IMAGE,
                "command": ["sh", "-c", "sleep 2; exit 1"],
            }
            await node.create_pod(manifest("survivor", app(), ticker))
            pod = await node.wait_pod("survivor", lambda p: container_status(p, "app").get("ready"))
            token = await serving(pod_url(pod, "/token"))
            port = int(api.url.rsplit(":", 1)[1])
            api.stop()
            await asyncio.sleep(3)  # long enough for the ticker to exit and be restarted
            assert await serving(pod_url(pod, "/token")) == token
            api = start_api(tmp_path / "api", "sqlite", port=port)
            await node.client.close()
            pod = await node.wait_pod(
                "survivor", lambda p: container_status(p, "ticker").get("restartCount", 0) >= 1, 30
            )
            assert container_status(pod, "app")["restartCount"] == 0
            assert await serving(pod_url(pod, "/token")) == token
    finally:
        api.stop()


async def test_a_steady_pod_is_not_written_again(kubelet_node: KubeletNode) -> None:
    """Resyncs look at the pod every second; with nothing changed they write nothing."""
    node = kubelet_node
    await node.create_pod(manifest("quiet", app()))
    pod = await node.wait_running("quiet")
    before = pod["metadata"]["resourceVersion"]
    await asyncio.sleep(3 * node.settings.resync_period)  # an observation window, not a wait
    after = await node.pod("quiet")
    assert after is not None and after["metadata"]["resourceVersion"] == before


async def test_logs_follow_the_running_attempt_and_keep_the_previous_one(
    kubelet_node: KubeletNode,
) -> None:
    node = kubelet_node
    script = (
        "import os, sys, time\n"
        "run = os.urandom(4).hex()\n"
        "for i in range(5):\n"
        "    print(run, 'line', i, flush=True)\n"
        "    time.sleep(0.4)\n"
        "sys.exit(1)\n"
    )
    talker = {"name": "talker", "image": STACK_IMAGE, "command": ["python3", "-u", "-c", script]}
    await node.create_pod(manifest("chatty", talker))

    def rerunning(pod: Obj) -> bool:
        status = container_status(pod, "talker")
        return status.get("restartCount", 0) >= 1 and "running" in status.get("state", {})

    await node.wait_pod("chatty", rerunning, 40)
    previous, tail, followed = await asyncio.wait_for(
        asyncio.gather(
            node.log("chatty", previous=True),
            node.log("chatty", previous=True, tailLines=2, timestamps=True),
            node.log("chatty", follow=True),
        ),
        30,
    )
    assert [line.split(" ", 1)[1] for line in previous.splitlines()] == [
        f"line {i}" for i in range(5)
    ]
    assert [line.split(" ", 2)[2] for line in tail.splitlines()] == ["line 3", "line 4"]
    current = {line.split()[0] for line in followed.splitlines()}
    assert len(current) == 1 and followed.splitlines()[-1].endswith("line 4"), followed
    assert {line.split()[0] for line in previous.splitlines()} != current


async def test_loopback_mode_says_once_what_it_cannot_enforce(
    request: pytest.FixtureRequest, sqlite_api: Any, tmp_path: Path
) -> None:
    """Without root (or with isolation off) pods still run, on a 127.x address of their own."""
    from orchestrator.kubelet.runtimes.process import ProcessRuntimeSettings

    loopback = ProcessRuntimeSettings(
        network="loopback", isolation="off", exit_poll_interval=0.1, log_follow_interval=0.02
    )
    async with kubelet_node_for(
        request, sqlite_api, "process", tmp_path, process_settings=loopback
    ) as node:
        server = {
            "name": "web",
            "image": STACK_IMAGE,
            "command": ["python3", "-m", "http.server", "$(PORT)", "--bind", "$(HOST)"],
            "ports": [{"containerPort": 8080}],
        }
        await node.create_pod(manifest("lo", server))
        pod = await node.wait_pod("lo", lambda p: container_status(p, "web").get("ready"))
        assert pod["status"]["podIP"].startswith("127.")
        await serving(pod_url(pod, "/"))
        await node.restart()
        events = BUILTIN_TYPES.require("", "Event")

        async def limitations() -> list[Obj]:
            page = await node.client.list(events, "default")
            return [e for e in page["items"] if e["reason"] == "RuntimeLimitations"]

        found = await eventually_async(limitations, 10)
        assert [e["involvedObject"]["kind"] for e in found] == ["Node"]
        assert found[0]["type"] == "Warning"
        assert "memory and CPU limits are not enforced" in found[0]["message"]
        assert found[0]["count"] == 1  # said once, not again by the restarted agent


async def test_exec_and_tcp_probes(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    fast = {"periodSeconds": 1, "failureThreshold": 3}
    healthy = app(
        startupProbe={"exec": {"command": ["sh", "-c", "test -d /"]}, **fast},
        livenessProbe={"tcpSocket": {"port": "http"}, **fast},
        readinessProbe={"exec": {"command": ["sh", "-c", "exit 0"]}, **fast},
    )
    unready = app(readinessProbe={"exec": {"command": ["sh", "-c", "echo nope; exit 3"]}, **fast})
    await node.create_pod(manifest("probed", healthy))
    await node.create_pod(manifest("refused", unready))
    pod = await node.wait_running("probed")
    assert container_status(pod, "app")["started"] is True

    async def unhealthy() -> list[str]:
        return [e["message"] for e in await node.events("refused") if e["reason"] == "Unhealthy"]

    messages = await eventually_async(unhealthy, 20)
    assert messages == ["Readiness probe failed: nope"]
    refused = await node.pod("refused")
    assert refused is not None and not is_ready(refused)
    assert container_status(refused, "app")["restartCount"] == 0  # readiness never kills


async def test_an_image_that_cannot_be_pulled_backs_off(kubelet_node: KubeletNode) -> None:
    """ErrImagePull first, then ImagePullBackOff between tries (nothing listens on localhost:1)."""
    node = kubelet_node
    image = "localhost:1/absent:1"
    await node.create_pod(manifest("unpullable", {"name": "app", "image": image}))
    reasons: set[str] = set()

    async def both_seen() -> bool:
        pod = await node.pod("unpullable") or {}
        waiting = container_status(pod, "app").get("state", {}).get("waiting", {})
        if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):  # not ContainerCreating
            reasons.add(waiting["reason"])
            assert image in waiting.get("message", ""), waiting
        return {"ErrImagePull", "ImagePullBackOff"} <= reasons

    await eventually_async(both_seen, 30, f"reasons seen: {reasons}")
    messages = [e["message"] for e in await node.events("unpullable")]
    assert any(m.startswith(f'Failed to pull image "{image}"') for m in messages), messages


async def test_config_map_files_follow_updates(kubelet_node: KubeletNode) -> None:
    node = kubelet_node
    await node.client.create(
        CONFIGMAPS, {"metadata": {"name": "live"}, "data": {"v": "1"}}, "default"
    )
    container = app(volumeMounts=[{"name": "cfg", "mountPath": "/etc/live"}])
    volumes = [{"name": "cfg", "configMap": {"name": "live"}}]
    await node.create_pod(manifest("follower", container, volumes=volumes))
    pod = await node.wait_running("follower")
    assert await serving(pod_url(pod, "/file/etc/live/v")) == "1"
    await node.client.patch(CONFIGMAPS, "live", {"data": {"v": "2"}}, "default")

    async def updated() -> bool:
        reply = await get(pod_url(pod, "/file/etc/live/v"))
        return reply == (200, "2")

    await eventually_async(updated, 20)
