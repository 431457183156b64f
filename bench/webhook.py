"""Webhook benchmark: what one validating admission webhook adds to a write.

Run with ``python -m bench.webhook [--quick] [--results FILE]``. It starts
``paas apiserver`` on SQLite as its own process (TLS, token auth) and an
allow-all webhook (``bench.webhookapp`` under uvicorn, HTTPS with a
certificate from the cluster's CA) as another, both on loopback, then
times sequential ConfigMap creates from one keep-alive HTTPS client:

- **without any webhook**: no configuration exists, so writes skip
  admission altogether;
- **with one validating webhook** whose rules match ConfigMap creates.

The two alternate in ``--rounds`` rounds (the configuration is created and
deleted between them, and which goes first alternates too), so that both
see the same machine: the two cores are shared with everything else
running. Between phases the benchmark waits, with a dry-run probe the
webhook refuses, until the API server has taken up or dropped the
configuration. The anchor of the added time is the webhook called directly
from this process over HTTPS (httpx, keep-alive): the part of the round
trip that is the webhook's own and the client's, not the API server's.

Target (issue 12): a webhook round trip on loopback adds <= 3 ms p50.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import ServerProcess
from bench.report import Figure, save_if_asked
from bench.stats import Latency
from bench.webhookapp import PROBE_NAME
from orchestrator import pki

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"
CONFIGMAPS = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
CONFIG_NAME = "bench-allow"
TARGET_ADDED_P50_MS = 3.0


class WebhookProcess:
    """``bench.webhookapp`` under uvicorn on a loopback socket made here (its port is known)."""

    def __init__(self, ca: pki.CertPaths, directory: Path) -> None:
        self.cert = pki.ensure_serving_cert(directory, ca, "webhook", ["127.0.0.1"])
        self.directory = directory
        # Accepted sockets inherit TCP_NODELAY; without it the answer's second write waits
        # for the client's delayed ACK (40 ms). asyncio sets it only on sockets made with
        # IPPROTO_TCP, which a socket handed over by --fd is not.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/validate"

    def start(self) -> WebhookProcess:
        log = (self.directory / "webhook.log").open("wb")
        fd = self.sock.fileno()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.webhookapp:app",
                "--app-dir",
                str(ROOT),
                "--fd",
                str(fd),
                "--ssl-certfile",
                str(self.cert.cert),
                "--ssl-keyfile",
                str(self.cert.key),
                "--log-level",
                "warning",
                "--no-access-log",
                "--lifespan",
                "off",
            ],
            pass_fds=(fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.sock.close()


def review(name: str) -> dict[str, Any]:
    """An AdmissionReview request for a ConfigMap create, as the API server sends it."""
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "resource": {"group": "", "version": "v1", "resource": "configmaps"},
            "name": name,
            "namespace": NAMESPACE,
            "operation": "CREATE",
            "userInfo": {"username": "admin"},
            "object": configmap(name),
            "oldObject": None,
            "dryRun": False,
        },
    }


def configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"bench": "webhook"}},
        "data": {"payload": "x" * 256},
    }


def configuration(webhook: WebhookProcess, ca_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": CONFIG_NAME},
        "webhooks": [
            {
                "name": "allow.bench.example.com",
                "clientConfig": {"url": webhook.url, "caBundle": base64.b64encode(ca_pem).decode()},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Fail",
            }
        ],
    }


# -- phases -----------------------------------------------------------------------------------


async def wait_for_webhook(webhook: WebhookProcess, ctx: ssl.SSLContext) -> None:
    """Wait until the webhook answers over HTTPS, its certificate verified."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(verify=ctx, timeout=10) as http:
        while True:
            try:
                (await http.post(webhook.url, json=review("ready"))).raise_for_status()
                return
            except httpx.TransportError:
                if webhook.process is not None and webhook.process.poll() is not None:
                    log = webhook.directory / "webhook.log"
                    raise RuntimeError(f"the webhook exited; see {log}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("the webhook did not answer within 30 s") from None
                await asyncio.sleep(0.05)


async def direct_calls(webhook: WebhookProcess, ctx: ssl.SSLContext, n: int) -> list[float]:
    """Round trips of the webhook called straight from this process (keep-alive HTTPS)."""
    samples = []
    async with httpx.AsyncClient(verify=ctx, timeout=10) as http:
        for i in range(n):
            body = review(f"direct-{i}")
            t0 = time.perf_counter()
            (await http.post(webhook.url, json=body)).raise_for_status()
            samples.append(time.perf_counter() - t0)
    return samples


async def probe_refused(http: httpx.AsyncClient) -> bool:
    """A dry-run create the webhook refuses: True while the configuration is in effect."""
    r = await http.post(CONFIGMAPS, json=configmap(PROBE_NAME), params={"dryRun": "All"})
    if r.status_code not in (201, 403):
        raise RuntimeError(f"probe answered {r.status_code}: {r.text}")
    return r.status_code == 403


async def until(check: Any, wanted: bool, what: str) -> None:
    deadline = time.monotonic() + 10
    while await check() is not wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not seen within 10 s")
        await asyncio.sleep(0.01)


async def set_webhook(http: httpx.AsyncClient, config: dict[str, Any] | None) -> None:
    """Create (``config``) or delete (None) the configuration; wait until writes see it."""
    if config is not None:
        (await http.post(CONFIGURATIONS, json=config)).raise_for_status()
        await until(lambda: probe_refused(http), True, "the webhook configuration in effect")
    else:
        (await http.delete(f"{CONFIGURATIONS}/{CONFIG_NAME}")).raise_for_status()
        await until(lambda: probe_refused(http), False, "the webhook configuration gone")


async def creates(http: httpx.AsyncClient, prefix: str, n: int) -> list[float]:
    samples = []
    for i in range(n):
        body = configmap(f"{prefix}-{i}")
        t0 = time.perf_counter()
        r = await http.post(CONFIGMAPS, json=body)
        samples.append(time.perf_counter() - t0)
        if r.status_code != 201:
            raise RuntimeError(f"create answered {r.status_code}: {r.text}")
    return samples


async def bench(args: argparse.Namespace, tmp: Path) -> dict[str, list[float]]:
    (tmp / "api").mkdir()
    server = ServerProcess("sqlite", tmp / "api").start()
    webhook: WebhookProcess | None = None
    try:
        ca = pki.CertPaths(server.data_dir / "ca.crt", server.data_dir / "ca.key")
        ctx = ssl.create_default_context(cafile=str(ca.cert))
        (tmp / "webhook").mkdir()
        webhook = WebhookProcess(ca, tmp / "webhook").start()
        await wait_for_webhook(webhook, ctx)
        config = configuration(webhook, ca.cert.read_bytes())
        samples: dict[str, list[float]] = {"without": [], "with": [], "direct": []}
        per_round = max(1, args.creates // args.rounds)
        async with server.client() as http:
            r = await http.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
            r.raise_for_status()
            await creates(http, "warmup", 50)  # the server's caches and the connection
            current = "without"
            for n in range(args.rounds):
                order = ("without", "with") if n % 2 == 0 else ("with", "without")
                for phase in order:
                    if phase != current:
                        await set_webhook(http, config if phase == "with" else None)
                        current = phase
                    samples[phase] += await creates(http, f"r{n}-{phase}", per_round)
        samples["direct"] = await direct_calls(webhook, ctx, args.creates)
        return samples
    finally:
        if webhook is not None:
            webhook.stop()
        server.stop()


# -- report -----------------------------------------------------------------------------------


def report(lat: dict[str, Latency], added: float, args: argparse.Namespace) -> str:
    lines = [
        f"Webhook benchmark: sequential ConfigMap creates, sqlite, {args.rounds} interleaved "
        f"rounds, {lat['without'].count} creates each way",
        "",
        f"{'measure':<48}{'p50 ms':>10}{'p99 ms':>10}",
    ]
    for key, name in (
        ("without", "create, no webhook"),
        ("with", "create, one validating webhook"),
        ("direct", "the webhook called directly (anchor)"),
    ):
        lines.append(f"{name:<48}{lat[key].p50_ms:>10.2f}{lat[key].p99_ms:>10.2f}")
    verdict = "met" if added <= TARGET_ADDED_P50_MS else "NOT met"
    lines += [
        "",
        f"added by the webhook: p50 {added:.2f} ms (target <= {TARGET_ADDED_P50_MS:g} ms: "
        f"{verdict}); p99 {lat['with'].p99_ms - lat['without'].p99_ms:.2f} ms",
    ]
    return "\n".join(lines)


def figures(lat: dict[str, Latency], added: float) -> list[Figure]:
    same_run = "the same creates without any webhook, interleaved"
    return [
        Figure("webhook", "sqlite: create p50, no webhook", lat["without"].p50_ms, "ms"),
        Figure("webhook", "sqlite: create p99, no webhook", lat["without"].p99_ms, "ms"),
        Figure(
            "webhook",
            "sqlite: create p50, one validating webhook",
            lat["with"].p50_ms,
            "ms",
            anchor=lat["without"].p50_ms,
            anchor_name=same_run,
        ),
        Figure(
            "webhook",
            "sqlite: create p99, one validating webhook",
            lat["with"].p99_ms,
            "ms",
            anchor=lat["without"].p99_ms,
            anchor_name=same_run,
        ),
        Figure(
            "webhook",
            "sqlite: p50 added by one validating webhook",
            added,
            "ms",
            anchor=lat["direct"].p50_ms,
            anchor_name="the webhook called directly over HTTPS from Python (httpx, keep-alive)",
            target=TARGET_ADDED_P50_MS,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--creates", type=int, default=500, help="creates each way (with, without)")
    p.add_argument("--rounds", type=int, default=10, help="alternations of with and without")
    p.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.creates, args.rounds = 100, 4
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        samples = asyncio.run(bench(args, Path(tmp)))
    lat = {k: Latency.of(v, sum(v)) for k, v in samples.items()}
    added = statistics.median(samples["with"]) * 1000 - statistics.median(samples["without"]) * 1000
    print(report(lat, added, args))
    save_if_asked(args.results, figures(lat, added))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
