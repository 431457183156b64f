"""Serverless end to end: a Knative Service and a pushed preview scale to zero and wake.

Through ``paas up`` (process runtime always, Docker where an engine answers) with
shortened autoscaling windows, the real kubectl, git and HTTP clients:

- a Knative Service manifest written for Knative is applied with kubectl; an invalid
  one is refused with Knative's message; ``kubectl get ksvc`` shows its URL, Ready;
- with no traffic it reaches zero pods; the next request is answered 200 (the cold
  start, printed); a burst of requests during a wake from zero gets no 5xx;
- a server-sent-events stream and a websocket echo pass through the router and the
  stream is not cut while it lasts;
- 50 concurrent clients for 30 s scale it out (its target is 5 concurrent a pod)
  and it scales back in afterwards;
- a second revision with a 90/10 split: over 1,000 requests 5-15% reach the old one,
  and its tag URL reaches it only;
- a branch pushed with git is a preview that goes to zero and wakes on a request.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from support.gitpush import GitUser
from support.paasup import Up, start_up
from support.pushsite import Site
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "python-flask"
pytestmark = pytest.mark.timeout(600)
WINDOW, GRACE = "4", "1"  # seconds: the autoscaler's stable window and scale-to-zero grace
SSE_SECONDS = 120  # a stream this long survives the router (issue 14: two minutes)

# The app in the stack image: a threaded HTTP server that says which revision answered,
# streams server-sent events and echoes websocket text frames (RFC 6455, the minimum).
APP = r"""
import base64, hashlib, os, socketserver, struct, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
REV = os.environ.get("K_REVISION", "?")
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/sse"):
            n = int(self.path.rsplit("=", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(n):
                self.wfile.write(f"data: tick {i}\n\n".encode()); self.wfile.flush()
                time.sleep(1)
            self.close_connection = True
            return
        if self.headers.get("Upgrade", "").lower() == "websocket":
            key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
            accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            while True:
                head = self.rfile.read(2)
                if len(head) < 2: return
                op, ln = head[0] & 15, head[1] & 127
                if ln == 126: ln = struct.unpack(">H", self.rfile.read(2))[0]
                mask = self.rfile.read(4)
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(ln)))
                if op == 8:
                    self.wfile.write(b"\x88\x00"); self.wfile.flush(); return
                if op == 1:
                    out = b"echo " + data
                    self.wfile.write(bytes([0x81, len(out)]) + out); self.wfile.flush()
        time.sleep(0.05)
        body = f"hello from {REV}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
ThreadingHTTPServer.daemon_threads = True
ADDRESS = (os.environ.get("HOST", "0.0.0.0"), int(os.environ["PORT"]))  # HOST: loopback pods
ThreadingHTTPServer(ADDRESS, H).serve_forever()
"""


def ksvc(
    env: str = "1", traffic: list[dict[str, Any]] | None = None, name: str = "echo"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {
                        "autoscaling.knative.dev/target": "5",
                        "autoscaling.knative.dev/max-scale": "4",
                    }
                },
                "spec": {
                    "containers": [
                        {
                            "image": "paas/stack:bookworm",
                            "command": ["python3", "-c", APP],
                            "env": [{"name": "VERSION", "value": env}],
                            "ports": [{"containerPort": 8080}],
                        }
                    ]
                },
            }
        },
    }
    if traffic is not None:
        body["spec"]["traffic"] = traffic
    return body


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    flags: tuple[str, ...] = ("--autoscale-window", WINDOW, "--scale-to-zero-grace", GRACE)
    if request.param == "docker":
        request.getfixturevalue("stack_image")  # the engine, or a skip (a failure in CI)
    else:
        flags += ("--network", "loopback")
    with start_up(tmp_path / "paas", request.param, *flags) as running:
        yield running


def apply(up: Up, obj: dict[str, Any], check: bool = True) -> Any:
    path = up.data_dir / f"ksvc-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(obj))
    return up.kubectl("apply", "-f", str(path), check=check)


def pods(up: Up, selector: str) -> int:
    done = up.kubectl("get", "pods", "-l", selector, "-o", "json")
    return sum(
        1 for p in json.loads(done.stdout)["items"] if not p["metadata"].get("deletionTimestamp")
    )


def ready_replicas(up: Up, deployment: str) -> int:
    done = up.kubectl("get", "deploy", deployment, "-o", "jsonpath={.status.readyReplicas}")
    return int(done.stdout or 0)


def gone_to_zero(up: Up, selector: str, timeout: float = 90) -> None:
    wait_until(lambda: pods(up, selector) == 0, timeout, f"pods of {selector} to go to zero")


def timed_get(site: Site, host: str, path: str = "/") -> tuple[int, str, float]:
    started = time.monotonic()
    status, body = site.get(host, path)
    return status, body, time.monotonic() - started


class Clients:
    """``n`` clients requesting ``host`` one request after another until stopped."""

    def __init__(self, site: Site, host: str, n: int) -> None:
        self.site, self.host, self.n = site, host, n
        self.answers: Counter[int] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]

    def _run(self) -> None:
        while not self._stop.is_set():
            status, _ = self.site.get(self.host)
            with self._lock:  # Counter's += is a read and a write: threads would lose counts
                self.answers[status] += 1

    def __enter__(self) -> Clients:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def sse_events(url: str, host: str, seconds: int, out: list[str]) -> None:
    with httpx.stream(
        "GET", f"{url}/sse?n={seconds}", headers={"Host": host}, timeout=httpx.Timeout(30.0)
    ) as response:
        out.append(f"status {response.status_code}")
        for line in response.iter_lines():
            if line.startswith("data: "):
                out.append(line)


async def websocket_echo(url: str, host: str) -> list[str]:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url}/ws", headers={"Host": host}) as ws:
            said = []
            for word in ("one", "two", "three"):
                await ws.send_str(word)
                said.append((await ws.receive(timeout=10)).data)
            await ws.close()
            return said


def test_a_knative_service_scales_to_zero_wakes_and_scales_out_and_in(up: Up) -> None:
    site = Site(up)
    host = "echo.default.localhost"
    selector = "serving.knative.dev/service=echo"

    refused = apply(up, ksvc(traffic=[{"latestRevision": True, "percent": 90}]), check=False)
    assert refused.returncode != 0
    assert "Traffic targets sum to 90, want 100: spec.traffic" in refused.stderr, refused.stderr

    apply(up, ksvc())
    apply(up, ksvc(name="stream"))  # a second service: its long stream keeps it busy meanwhile
    wait_until(lambda: site.get(host)[0] == 200, 120, "echo to answer")
    wait_until(lambda: site.get("stream.default.localhost")[0] == 200, 120, "stream to answer")
    # a server-sent-events stream lasting two minutes, through the router, all along
    events: list[str] = []
    stream = threading.Thread(
        target=sse_events, args=(site.router, "stream.default.localhost", SSE_SECONDS, events)
    )
    stream.start()
    listed = up.kubectl("get", "ksvc", "echo").stdout
    assert f"http://{host}:{site.port}" in listed and "True" in listed, listed

    # idle: zero pods; the next request wakes it and is answered
    gone_to_zero(up, selector)
    status, body, cold = timed_get(site, host)
    assert (status, body) == (200, "hello from echo-00001\n")
    print(f"\n{up.runtime}: cold start through the router {cold:.3f}s")

    # a burst while it wakes from zero: no request is refused
    gone_to_zero(up, selector)
    with ThreadPoolExecutor(20) as pool:
        burst = list(pool.map(lambda _: site.get(host)[0], range(20)))
    assert burst == [200] * 20, Counter(burst)

    assert asyncio.run(websocket_echo(site.router, host)) == [
        "echo one",
        "echo two",
        "echo three",
    ]

    # 50 clients for 30 s: out beyond one pod (target 5 a pod, at most 4)
    most = 0
    with Clients(site, host, 50) as clients:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            most = max(most, ready_replicas(up, "echo-00001-deployment"))
            time.sleep(1)
    assert clients.answers and set(clients.answers) == {200}, clients.answers
    assert most > 1, f"never scaled out: at most {most} ready pods"
    print(f"{up.runtime}: 50 clients: {sum(clients.answers.values())} answers, {most} pods")

    gone_to_zero(up, selector)  # and back in once the load is over
    stream.join(SSE_SECONDS + 60)
    assert events[0] == "status 200" and len(events) == SSE_SECONDS + 1, events[-3:]


def test_a_90_10_split_and_a_tag_url_reach_their_revisions(up: Up) -> None:
    site = Site(up)
    host = "echo.default.localhost"
    apply(up, ksvc())
    wait_until(lambda: site.get(host)[0] == 200, 120, "echo to answer")
    # a second revision, 90/10, the old one behind a tag
    apply(up, ksvc(env="2"))
    wait_until(lambda: site.get(host)[1] == "hello from echo-00002\n", 120, "revision 2")
    split = [
        {"latestRevision": True, "percent": 90},
        {"revisionName": "echo-00001", "percent": 10, "tag": "old"},
    ]
    apply(up, ksvc(env="2", traffic=split))
    wait_until(lambda: site.get("old-echo.default.localhost")[0] == 200, 120, "the tag URL")
    tagged = {site.get("old-echo.default.localhost")[1] for _ in range(20)}
    assert tagged == {"hello from echo-00001\n"}
    with ThreadPoolExecutor(8) as pool:
        answers = Counter(pool.map(lambda _: site.get(host)[1], range(1000)))
    old = answers["hello from echo-00001\n"]
    assert set(answers) == {"hello from echo-00001\n", "hello from echo-00002\n"}, answers
    assert 50 <= old <= 150, answers  # 5-15% of 1,000


def test_a_pushed_preview_goes_to_zero_and_wakes(up: Up, tmp_path: Path) -> None:
    site = Site(up)
    dev = GitUser(tmp_path / "home")
    shutil.copytree(EXAMPLE, dev.tree, dirs_exist_ok=True)
    dev.commit({}, "the example")
    done = dev.push(site.remote("shop"), "main:preview")
    assert done.returncode == 0, done.stderr
    host = "preview--shop.localhost"
    assert site.get(host)[0] == 200
    gone_to_zero(up, "paas.dev/app=shop,paas.dev/branch=preview")
    branches = up.kubectl("get", "app", "shop", "-o", "json").stdout
    [entry] = json.loads(branches)["status"]["branches"]
    assert entry["instances"] == 0 and entry["phase"] == "Live", entry
    status, body, cold = timed_get(site, host)
    assert status == 200 and "Hello from Python" in body, body
    print(f"\n{up.runtime}: preview woke in {cold:.3f}s")
