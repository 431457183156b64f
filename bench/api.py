"""API benchmark: creates, gets, lists and watch delivery, on SQLite and etcd.

Run with ``make bench`` (or ``python -m bench.api [--quick]``). In one run it:

1. starts a real etcd and drives etcd's own HTTP/JSON gateway (put and
   range of the same size) with ``wrk`` at the same concurrency: the anchor
   every API figure is compared with, measured by the same load generator;
2. for each store (SQLite, etcd), starts ``paas apiserver`` as its own
   process (TLS, token auth) and drives it over HTTPS:
   - creates of ConfigMaps by ``--clients`` concurrent wrk connections for
     ``--seconds`` (rate, p50, p99),
   - creates of a custom resource, at the same concurrency for as long, right
     after: a ``BenchService`` (about 2.6 KB) under a CRD whose schema is the
     size of Knative's Service (about 100 KB, ``bench/crdschema.py``), so
     every create is pruned, defaulted and validated (schema and CEL) by it.
     Its rate is compared with the ConfigMaps' of the same store and run
     (target >= 70%);
   - creates in JSON and in protobuf (as kubectl 1.32+ sends them: protobuf
     body, protobuf preferred in the answer) of the same ConfigMap and the
     same Deployment, one run after the other: protobuf / JSON create/s;
   - gets of those objects, same concurrency,
   - updates of those objects (merge patches that change a value, so each
     is compared, has its field manager recorded and is stored), same
     concurrency,
   - watch delivery: time from sending a create to its event reaching each
     of ``--watchers`` open watches (p50, p99; it includes the create's own
     round trip, about a millisecond, since writes go one at a time),
   - a full list of ``--list-size`` pods (median of 5);
3. prints the figures side by side with ratios to the etcd anchor, and the
   targets from the issue.

wrk (Debian's ``wrk``) is the load generator because a Python HTTP client
saturates a core well before the server does; watches and lists are driven
from Python (httpx), where the server's side dominates. The server and the
load generator share the machine's two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench import crdschema, secretsatrest
from bench.cluster import ServerProcess
from bench.report import Figure, save_if_asked
from bench.stats import Latency
from orchestrator.api.protobuf import MEDIA_TYPE as PROTOBUF
from orchestrator.api.protobuf import encode_object
from orchestrator.apiserver.auth import add_token

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's etcd launcher

from support.etcd import EtcdProcess  # noqa: E402


async def run_concurrently(
    n: int, clients: int, op: Callable[[int], Awaitable[None]]
) -> tuple[list[float], float]:
    """Run ``op(i)`` for i in range(n) from ``clients`` workers; latencies and elapsed time."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - start


# -- wrk ------------------------------------------------------------------

WRK_DIR = Path(__file__).resolve().parent / "wrk"


def run_wrk(url: str, script: str, seconds: float, clients: int, **env: str) -> Latency:
    """Run one wrk script against ``url``; its figures as a Latency."""
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", str(WRK_DIR / script), url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "WRK_DIR": str(WRK_DIR), **env},
    ).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    r = json.loads(line.removeprefix("RESULT "))
    if r["errors"] or r["non2xx"]:
        raise RuntimeError(
            f"wrk saw {r['errors']} errors and {r['non2xx']} non-2xx answers "
            f"running {script}:\n{out}"
        )
    return Latency(
        count=r["requests"],
        rate=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
    )


def bench_etcd(endpoint: str, args: argparse.Namespace) -> dict[str, Latency]:
    url = f"http://{endpoint}"
    put = run_wrk(url, "etcd.lua", args.seconds, args.clients, ETCD_OP="put", COUNT="5000")
    get = run_wrk(url, "etcd.lua", args.seconds, args.clients, ETCD_OP="get", COUNT="5000")
    return {"put": put, "get": get}


# -- the API server under test -----------------------------------------------


def configmap(prefix: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{prefix}-{i}", "labels": {"bench": prefix}},
        "data": {"index": str(i), "payload": "x" * 256},
    }


def deployment(name: str) -> dict[str, Any]:
    """What ``kubectl create deployment NAME --image=x --port=8080 --replicas=3`` sends."""
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "bench", "labels": labels},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "x", "image": "x", "ports": [{"containerPort": 8080}]}]
                },
            },
        },
    }


# Protobuf against JSON creates: (results key, kind's path, body maker).
WIRE_KINDS = (
    ("configmap", "/api/v1/namespaces/bench/configmaps", lambda n: {
        **configmap("", 0), "metadata": {"name": n, "namespace": "bench"}}),
    ("deployment", "/apis/apps/v1/namespaces/bench/deployments", deployment),
)  # fmt: skip


def bench_wire(server: ServerProcess, args: argparse.Namespace) -> dict[str, Latency]:
    """Creates with JSON and with protobuf bodies, per kind, one after the other."""
    results = {}
    for key, path, make in WIRE_KINDS:
        for wire, data, accept in (
            ("json", json.dumps(make("__NAME__")).encode(), "application/json"),
            ("pb", encode_object(make("__NAME__")), f"{PROTOBUF},application/json"),
        ):
            body = server.data_dir / f"{key}.{wire}"
            body.write_bytes(data)
            results[f"{key}_{wire}"] = run_wrk(
                server.url,
                "api_create_body.lua",
                args.seconds,
                args.clients,
                API_TOKEN=server.token,
                NAME_PREFIX=f"{key[0]}{wire[0]}",
                FIXED_NAME="1",
                API_PATH=path,
                BODY_FILE=str(body),
                CONTENT_TYPE="application/json" if wire == "json" else PROTOBUF,
                ACCEPT=accept,
            )
    return results


def pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "paas/stack:bookworm",
                    "command": ["python3", "-m", "http.server"],
                }
            ]
        },
    }


async def bench_api(server: ServerProcess, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with server.client() as http:
        r = await http.post("/api/v1/namespaces", json={"metadata": {"name": "bench"}})
        r.raise_for_status()
        services = await serve_custom_resource(http)

        results["create"] = run_wrk(
            server.url,
            "api_create.lua",
            args.seconds,
            args.clients,
            API_TOKEN=server.token,
            NAME_PREFIX="cm",
        )
        # The same creates by a user RBAC must authorize (bound to edit in the namespace),
        # right after the admin's, which system:masters lets through without asking.
        editor = await editor_token(server, http)
        results["authz_create"] = run_wrk(
            server.url,
            "api_create.lua",
            args.seconds,
            args.clients,
            API_TOKEN=editor,
            NAME_PREFIX="az",
        )
        body = server.data_dir / "benchservice.json"
        body.write_text(json.dumps(crdschema.service("__NAME__")))
        results["cr_create"] = run_wrk(
            server.url,
            "api_create_body.lua",
            args.seconds,
            args.clients,
            API_TOKEN=server.token,
            NAME_PREFIX="cr",
            API_PATH=services,
            BODY_FILE=str(body),
        )
        results["wire"] = bench_wire(server, args)
        low, high = await created_range(http, "cm")
        results["get"] = run_wrk(
            server.url,
            "api_get.lua",
            args.seconds,
            args.clients,
            API_TOKEN=server.token,
            NAME_PREFIX="cm",
            LOW=str(low),
            HIGH=str(high),
        )
        results["update"] = run_wrk(
            server.url,
            "api_patch.lua",
            args.seconds,
            args.clients,
            API_TOKEN=server.token,
            NAME_PREFIX="cm",
            LOW=str(low),
            HIGH=str(high),
        )
        results["watch"] = await bench_watch(server, http, args)

        pods = "/api/v1/namespaces/bench/pods"

        async def create_pod(i: int) -> None:
            (await http.post(pods, json=pod(i))).raise_for_status()

        await run_concurrently(args.list_size, args.clients, create_pod)
        timings = []
        count = 0
        for _ in range(5):
            t0 = time.perf_counter()
            r = await http.get(pods)
            r.raise_for_status()
            count = len(r.json()["items"])
            timings.append(time.perf_counter() - t0)
        results["list"] = {"count": count, "median_s": statistics.median(timings)}
    return results


async def editor_token(server: ServerProcess, http: httpx.AsyncClient) -> str:
    """A token of a user bound to ``edit`` in namespace bench, once RBAC has the binding."""
    token = add_token(server.data_dir / "tokens.json", user="bench-editor")
    group = "rbac.authorization.k8s.io"
    r = await http.post(
        f"/apis/{group}/v1/namespaces/bench/rolebindings",
        json={
            "metadata": {"name": "bench-editor"},
            "roleRef": {"apiGroup": group, "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "User", "apiGroup": group, "name": "bench-editor"}],
        },
    )
    r.raise_for_status()
    review = {
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {
            "user": "bench-editor",
            "resourceAttributes": {
                "verb": "create",
                "resource": "configmaps",
                "namespace": "bench",
            },
        },
    }
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = await http.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
        if r.json()["status"]["allowed"]:
            return token
        await asyncio.sleep(0.05)
    raise RuntimeError("the bench-editor binding never took effect")


async def serve_custom_resource(http: httpx.AsyncClient, timeout: float = 30.0) -> str:
    """Apply the bench CRD, wait until it is Established and its route answers; its path."""
    crd = crdschema.crd()
    name = crd["metadata"]["name"]
    r = await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    r.raise_for_status()
    path = f"/apis/{crdschema.GROUP}/{crdschema.VERSION}/namespaces/bench/{crdschema.PLURAL}"

    async def established() -> bool:
        r = await http.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        r.raise_for_status()
        conditions = r.json().get("status", {}).get("conditions", [])
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    async def served() -> bool:
        return (await http.get(path)).status_code == 200

    for check, what in ((established, "Established"), (served, f"served at {path}")):
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not {what} within {timeout:g}s")
            await asyncio.sleep(0.05)
    return path


async def created_range(http: httpx.AsyncClient, prefix: str) -> tuple[int, int]:
    """The contiguous index range of the ConfigMaps wrk created (it may skip the first)."""
    r = await http.get("/api/v1/namespaces/bench/configmaps")
    r.raise_for_status()
    found = sorted(
        int(cm["metadata"]["name"].rsplit("-", 1)[1])
        for cm in r.json()["items"]
        if cm["metadata"]["name"].startswith(prefix + "-")
    )
    if not found or found[-1] - found[0] + 1 != len(found):
        raise RuntimeError(f"created ConfigMaps are not contiguous: {found[:5]}...")
    return found[0], found[-1]


async def bench_watch(
    server: ServerProcess, http: httpx.AsyncClient, args: argparse.Namespace
) -> Latency:
    """Delay from sending a create to its ADDED event at each watcher."""
    sent: dict[str, float] = {}
    delays: list[float] = []
    path = "/api/v1/namespaces/bench/configmaps"
    r = await http.get(path, params={"limit": 1})
    rv = r.json()["metadata"]["resourceVersion"]
    expected = args.watch_events * args.watchers
    done = asyncio.Event()
    ready = asyncio.Semaphore(0)

    async def watcher() -> None:
        async with (
            server.client() as wc,
            wc.stream(
                "GET",
                path,
                params={"watch": "1", "resourceVersion": rv, "labelSelector": "bench=w"},
            ) as resp,
        ):
            ready.release()
            async for line in resp.aiter_lines():
                event = json.loads(line)
                name = event["object"]["metadata"]["name"]
                delays.append(time.perf_counter() - sent[name])
                if len(delays) >= expected:
                    done.set()
                    return

    tasks = [asyncio.create_task(watcher()) for _ in range(args.watchers)]
    for _ in range(args.watchers):
        await ready.acquire()
    start = time.perf_counter()

    async def create(i: int) -> None:
        obj = configmap("w", i)
        sent[obj["metadata"]["name"]] = time.perf_counter()
        (await http.post(path, json=obj)).raise_for_status()

    # A steady write rate (not a burst) so that delivery, not queueing, is measured.
    for i in range(args.watch_events):
        await create(i)
    await asyncio.wait_for(done.wait(), 60)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return Latency.of(delays, time.perf_counter() - start)


def report(
    anchor: dict[str, Latency], results: dict[str, dict[str, Any]], args: argparse.Namespace
) -> str:
    lines = [
        f"API benchmark: wrk, {args.clients} connections, {args.seconds:g} s a measure; "
        f"{args.watchers} watchers x {args.watch_events} events, list of {args.list_size} pods",
        "",
        f"{'measure':<30}{'etcd anchor':>14}" + "".join(f"{s:>14}" for s in results) + "   target",
    ]

    def row(name: str, anchor_v: str, values: list[str], target: str) -> None:
        lines.append(
            f"{name:<30}{anchor_v:>14}" + "".join(f"{v:>14}" for v in values) + f"   {target}"
        )

    stores = list(results.values())
    row(
        "create/s",
        f"{anchor['put'].rate:.0f}",
        [f"{r['create'].rate:.0f}" for r in stores],
        ">= 1000 (sqlite)",
    )
    row(
        "create p50 ms",
        f"{anchor['put'].p50_ms:.2f}",
        [f"{r['create'].p50_ms:.2f}" for r in stores],
        "",
    )
    row(
        f"create p99 ms ({args.clients} clients)",
        f"{anchor['put'].p99_ms:.2f}",
        [f"{r['create'].p99_ms:.2f}" for r in stores],
        "<= 20",
    )
    row(
        "create/s as an edit user",
        "-",
        [f"{r['authz_create'].rate:.0f}" for r in stores],
        "",
    )
    row(
        "RBAC / master create/s",
        "-",
        [f"{r['authz_create'].rate / max(r['create'].rate, 1e-9):.2f}" for r in stores],
        ">= 0.90",
    )
    row(
        "cr create/s",
        "-",
        [f"{r['cr_create'].rate:.0f}" for r in stores],
        "",
    )
    row("cr create p50 ms", "-", [f"{r['cr_create'].p50_ms:.2f}" for r in stores], "")
    row("cr create p99 ms", "-", [f"{r['cr_create'].p99_ms:.2f}" for r in stores], "")
    row(
        "cr / ConfigMap create/s",
        "-",
        [f"{r['cr_create'].rate / max(r['create'].rate, 1e-9):.2f}" for r in stores],
        ">= 0.70",
    )
    for kind in ("configmap", "deployment"):
        row(
            f"{kind} json create/s",
            "-",
            [f"{r['wire'][kind + '_json'].rate:.0f}" for r in stores],
            "",
        )
        row(
            f"{kind} protobuf create/s",
            "-",
            [f"{r['wire'][kind + '_pb'].rate:.0f}" for r in stores],
            "",
        )
        row(
            f"{kind} protobuf / json",
            "-",
            [
                f"{r['wire'][kind + '_pb'].rate / max(r['wire'][kind + '_json'].rate, 1e-9):.2f}"
                for r in stores
            ],
            "",
        )
    row("get/s", f"{anchor['get'].rate:.0f}", [f"{r['get'].rate:.0f}" for r in stores], "")
    row("get p50 ms", f"{anchor['get'].p50_ms:.2f}", [f"{r['get'].p50_ms:.2f}" for r in stores], "")
    row("get p99 ms", f"{anchor['get'].p99_ms:.2f}", [f"{r['get'].p99_ms:.2f}" for r in stores], "")
    row("update/s", f"{anchor['put'].rate:.0f}", [f"{r['update'].rate:.0f}" for r in stores], "")
    row(
        "update p50 ms",
        f"{anchor['put'].p50_ms:.2f}",
        [f"{r['update'].p50_ms:.2f}" for r in stores],
        "",
    )
    row(
        "update p99 ms",
        f"{anchor['put'].p99_ms:.2f}",
        [f"{r['update'].p99_ms:.2f}" for r in stores],
        "",
    )
    row("watch delivery p50 ms", "-", [f"{r['watch'].p50_ms:.2f}" for r in stores], "")
    row("watch delivery p99 ms", "-", [f"{r['watch'].p99_ms:.2f}" for r in stores], "<= 20")
    row(
        f"list {args.list_size} pods s",
        "-",
        [f"{r['list']['median_s']:.3f}" for r in stores],
        "<= 1",
    )
    for name, values, target in secretsatrest.report_rows(results):
        row(name, "-", values, target)
    lines.append("")
    for store, r in results.items():
        lines.append(
            f"{store}: create p50 = {r['create'].p50_ms / max(anchor['put'].p50_ms, 1e-9):.1f}x "
            f"etcd put p50; get p50 = {r['get'].p50_ms / max(anchor['get'].p50_ms, 1e-9):.1f}x "
            "etcd get p50"
        )
    return "\n".join(lines)


def figures(
    anchor: dict[str, Latency], results: dict[str, dict[str, Any]], args: argparse.Namespace
) -> list[Figure]:
    """The report's figures, for the summary of ``make bench``."""
    etcd = "etcd's own HTTP gateway (put, range) under the same wrk load"
    configmaps = "ConfigMap creates on the same store in the same run"
    put, get = anchor["put"], anchor["get"]
    out = []
    for store, r in results.items():
        rows: list[tuple[str, float, str, dict[str, Any]]] = [
            ("create/s", r["create"].rate, "/s", {"better": "higher", "anchor": put.rate}),
            ("create p50", r["create"].p50_ms, "ms", {"anchor": put.p50_ms}),
            (
                f"create p99 ({args.clients} clients)",
                r["create"].p99_ms,
                "ms",
                {"anchor": put.p99_ms, "target": 20.0},
            ),
            (
                "create/s as an edit user (RBAC)",
                r["authz_create"].rate,
                "/s",
                {
                    "better": "higher",
                    "anchor": r["create"].rate,
                    "anchor_name": "the admin's creates (system:masters, not authorized)",
                    "target": 0.9,
                    "of_anchor": True,
                },
            ),
            (
                "cr create/s",
                r["cr_create"].rate,
                "/s",
                {
                    "better": "higher",
                    "anchor": r["create"].rate,
                    "anchor_name": configmaps,
                    "target": 0.7,
                    "of_anchor": True,
                },
            ),
            (
                "cr create p50",
                r["cr_create"].p50_ms,
                "ms",
                {"anchor": r["create"].p50_ms, "anchor_name": configmaps},
            ),
            (
                f"cr create p99 ({args.clients} clients)",
                r["cr_create"].p99_ms,
                "ms",
                {"anchor": r["create"].p99_ms, "anchor_name": configmaps},
            ),
            ("get/s", r["get"].rate, "/s", {"better": "higher", "anchor": get.rate}),
            ("get p50", r["get"].p50_ms, "ms", {"anchor": get.p50_ms}),
            ("get p99", r["get"].p99_ms, "ms", {"anchor": get.p99_ms}),
            ("update/s", r["update"].rate, "/s", {"better": "higher", "anchor": put.rate}),
            ("update p50", r["update"].p50_ms, "ms", {"anchor": put.p50_ms}),
            ("watch delivery p50", r["watch"].p50_ms, "ms", {}),
            ("watch delivery p99", r["watch"].p99_ms, "ms", {"target": 20.0}),
            (f"list {args.list_size} pods", r["list"]["median_s"], "s", {"target": 1.0}),
        ]
        for kind in ("configmap", "deployment"):
            as_json = r["wire"][f"{kind}_json"].rate
            rows.append(
                (
                    f"{kind} protobuf create/s",
                    r["wire"][f"{kind}_pb"].rate,
                    "/s",
                    {
                        "better": "higher",
                        "anchor": as_json,
                        "anchor_name": f"{kind} JSON creates in the same run",
                        "of_anchor": True,
                    },
                )
            )
        if store == "sqlite":
            rows[0][3]["target"] = 1000.0
        for name, value, unit, kw in rows:
            if "anchor" in kw:
                kw.setdefault("anchor_name", etcd)
            out.append(Figure("api", f"{store}: {name}", value, unit, **kw))
        out += secretsatrest.figures(store, r["secrets"])
    return out


async def main_async(args: argparse.Namespace) -> int:
    with EtcdProcess() as etcd:
        anchor = bench_etcd(etcd.endpoint, args)
        results: dict[str, dict[str, Any]] = {}
        for store in args.stores:
            spec = "sqlite" if store == "sqlite" else f"etcd://{etcd.endpoint}"
            with tempfile.TemporaryDirectory(prefix=f"bench-{store}-") as tmp:
                server = ServerProcess(spec, Path(tmp)).start()
                try:
                    results[store] = await bench_api(server, args)
                finally:
                    server.stop()
            results[store]["secrets"] = await secretsatrest.compare(store, args)  # at rest, RBAC
            print(f"  {store}: done", file=sys.stderr, flush=True)
    print(report(anchor, results, args))
    save_if_asked(args.results, figures(anchor, results, args))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--watchers", type=int, default=10)
    p.add_argument("--watch-events", type=int, default=300)
    p.add_argument("--list-size", type=int, default=10000)
    p.add_argument("--stores", nargs="+", default=["sqlite", "etcd"])
    p.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.watch_events, args.list_size = 2.0, 50, 1000
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
