"""How fast the API server refuses bombs, and what they cost it in memory.

Run with ``python -m bench.limits [--quick] [--results FILE]``. It starts
``paas apiserver`` (SQLite) as a subprocess and sends each bomb the issue
names, several times: the billion-laughs YAML (9 levels of 9 aliases, as a
create and as a server-side apply), the 21-copy JSON patch, a 3 MiB JSON
nesting bomb, 100,000 levels of YAML block nesting and a JSON patch of
10,001 operations. For each: the median and worst time to the refusal
(target < 100 ms, the issue's), and the server's RSS growth over all of them
(from ``/proc/PID/status``). The anchor is a plain ``GET`` of one ConfigMap
in the same run: what any request costs on this machine. Then the same
``GET`` while 2,000 idle connections are open (1,700 that never start TLS,
300 that sent half a request's headers): its median should stay near the
anchor's. Last, the same ``GET`` while another client sends 480 kB YAML
ConfigMaps (dry runs) one after another: YAML is decoded off the event loop,
so the worst ``GET`` should stay far below what one such body takes to parse
(printed beside it).

Before these limits the laughs took 2.3 s and 1.25 GB and the 21 copies
3.2 s and 780 MB (the issue's measurements).
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.cluster import ServerProcess
from bench.report import Figure, save_if_asked
from orchestrator.apiserver.decoding import load_yaml

CMS = "/api/v1/namespaces/default/configmaps"


def laughs(levels: int = 9) -> bytes:
    lines = ['metadata: {name: lol}\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in itertools.pairwise("abcdefghijklmnop"[: levels + 1]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines).encode()


def copy_bomb(copies: int = 21) -> bytes:
    ops = [{"op": "add", "path": "/data/seed", "value": "x" * 40}]
    ops += [{"op": "copy", "from": "/data", "path": f"/data/c{i}"} for i in range(copies)]
    return json.dumps(ops).encode()


BOMBS: dict[str, tuple[str, str, bytes, str]] = {
    "billion laughs (create)": ("POST", CMS, laughs(), "application/yaml"),
    "billion laughs (apply)": (
        "PATCH",
        f"{CMS}/base?fieldManager=bench",
        laughs(),
        "application/apply-patch+yaml",
    ),
    "21-copy JSON patch": ("PATCH", f"{CMS}/base", copy_bomb(), "application/json-patch+json"),
    "JSON nesting, 3 MiB": ("POST", CMS, b"[" * (3 * 1024 * 1024 - 16), "application/json"),
    "YAML nesting, 100k levels": ("POST", CMS, b"x:\n  " + b"- " * 100_000, "application/yaml"),
    "JSON patch of 10,001 ops": (
        "PATCH",
        f"{CMS}/base",
        json.dumps([{"op": "test", "path": "/data", "value": {}}] * 10_001).encode(),
        "application/json-patch+json",
    ),
}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def timed(http: httpx.Client, method: str, path: str, body: bytes | None, ctype: str) -> float:
    start = time.perf_counter()
    r = http.request(method, path, content=body, headers={"Content-Type": ctype})
    took = time.perf_counter() - start
    if body is not None and r.status_code < 400:
        raise RuntimeError(f"{method} {path} was accepted ({r.status_code}): the bench is wrong")
    return took


def open_idle(url: str, ca: Path, plain: int, partial: int) -> list[socket.socket]:
    """``plain`` sockets that never start TLS, ``partial`` TLS ones with half a request."""
    split = urlsplit(url)
    address = (split.hostname or "127.0.0.1", split.port or 443)
    context = ssl.create_default_context(cafile=str(ca))
    idle = [socket.create_connection(address) for _ in range(plain)]
    for _ in range(partial):
        tls = context.wrap_socket(socket.create_connection(address), server_hostname=address[0])
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        idle.append(tls)
    return idle


def big_yaml(size: int = 480_000) -> bytes:
    """A ConfigMap in block YAML of about ``size`` bytes (under the 512 KiB YAML limit)."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  generateName: big-", "data:"]
    total, i = 0, 0
    while total < size:
        line = f"  key{i}: value-{i}-" + "x" * 40
        lines.append(line)
        total += len(line) + 1
        i += 1
    return ("\n".join(lines) + "\n").encode()


def beside_yaml(
    http: httpx.Client, make_client: Callable[[], httpx.Client], rounds: int
) -> tuple[list[float], float]:
    """GET latencies while another client sends big YAML bodies; and one body's parse time."""
    body = big_yaml()
    started = time.perf_counter()
    load_yaml(body)  # what the API server's decoder takes for one, in this process, for scale
    parse = time.perf_counter() - started
    stop = threading.Event()

    def send() -> None:
        with make_client() as other:
            while not stop.is_set():
                r = other.post(
                    f"{CMS}?dryRun=All", content=body, headers={"Content-Type": "application/yaml"}
                )
                if r.status_code != 201:
                    raise RuntimeError(f"a YAML dry run was refused: {r.status_code} {r.text}")

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        time.sleep(0.2)  # the first body is on its way
        crowded = []
        for _ in range(rounds):
            crowded.append(timed(http, "GET", f"{CMS}/base", None, ""))
            time.sleep(0.01)
    finally:
        stop.set()
        sender.join(30)
    return crowded, parse


def run(
    args: argparse.Namespace,
) -> tuple[dict[str, list[float]], list[float], int, list[float], list[float], float]:
    rounds = 3 if args.quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess("sqlite", Path(tmp)).start()
        try:
            ctx = httpx.create_ssl_context(verify=str(Path(tmp) / "ca.crt"))

            def client() -> httpx.Client:
                return httpx.Client(
                    base_url=server.url,
                    verify=ctx,
                    headers={"Authorization": f"Bearer {server.token}"},
                    timeout=60,
                )

            with client() as http:
                http.post(CMS, json={"metadata": {"name": "base"}, "data": {"a": "b"}})
                plain = [timed(http, "GET", f"{CMS}/base", None, "") for _ in range(rounds * 5)]
                before = rss_kib(server.pid)
                times: dict[str, list[float]] = {name: [] for name in BOMBS}
                for _ in range(rounds):
                    for name, (method, path, body, ctype) in BOMBS.items():
                        times[name].append(timed(http, method, path, body, ctype))
                growth = rss_kib(server.pid) - before
                idle = open_idle(server.url, Path(tmp) / "ca.crt", 1700, 300)
                try:
                    crowded = [timed(http, "GET", f"{CMS}/base", None, "") for _ in range(50)]
                finally:
                    for sock in idle:
                        sock.close()
                yamled, parse = beside_yaml(http, client, 30 if args.quick else 150)
        finally:
            server.stop()
    return times, plain, growth, crowded, yamled, parse


def figures(
    times: dict[str, list[float]],
    plain: list[float],
    growth: int,
    crowded: list[float],
    yamled: list[float],
    parse: float,
) -> list[Figure]:
    anchor = statistics.median(plain) * 1000
    out = [
        Figure(
            "limits",
            "GET with 2,000 idle connections open, median",
            statistics.median(crowded) * 1000,
            "ms",
            anchor=anchor,
            anchor_name="GET of one ConfigMap, median",
        ),
        Figure(
            "limits",
            "GET while 480 kB YAML bodies arrive, worst",
            max(yamled) * 1000,
            "ms",
            anchor=parse * 1000,
            anchor_name="parsing one such body",
        ),
    ]
    for name, samples in times.items():
        out.append(
            Figure(
                "limits",
                f"{name}: refused in, worst",
                max(samples) * 1000,
                "ms",
                anchor=anchor,
                anchor_name="GET of one ConfigMap, median",
                target=100.0,
            )
        )
    out.append(Figure("limits", "server RSS growth over all bombs", growth / 1024, "MiB"))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 rounds instead of 20")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args()
    times, plain, growth, crowded, yamled, parse = run(args)
    print(f"GET of one ConfigMap (anchor): median {statistics.median(plain) * 1000:.1f} ms")
    for name, samples in times.items():
        median, worst = statistics.median(samples) * 1000, max(samples) * 1000
        print(f"{name:28s} refused in median {median:6.1f} ms, worst {worst:6.1f} ms")
    print(f"server RSS growth over all bombs: {growth / 1024:.1f} MiB")
    print(
        f"GET with 2,000 idle connections open: median {statistics.median(crowded) * 1000:.1f} ms"
    )
    print(
        f"GET while 480 kB YAML bodies arrive: median {statistics.median(yamled) * 1000:.1f} ms, "
        f"worst {max(yamled) * 1000:.1f} ms (parsing one body takes {parse * 1000:.0f} ms)"
    )
    save_if_asked(args.results, figures(times, plain, growth, crowded, yamled, parse))


if __name__ == "__main__":
    main()
