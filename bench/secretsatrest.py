"""Secrets encrypted at rest, and authorized: creates/s beside neither, same store, same run.

Part of ``bench.api`` (``--stores`` decides which backends). For each store it
starts two ``paas apiserver`` processes side by side, one with an
EncryptionConfiguration (aesgcm, a 32-byte key, for ``secrets``) and one
without, each on its own SQLite file or its own fresh etcd (two servers on one
etcd would read each other's writes), and drives Secret creates with the same
wrk load, three ways:

- ``off``: the admin (``system:masters``, which authorization lets through
  without asking) on the server without encryption;
- ``on``: the admin on the encrypting server (encryption alone);
- ``both``: a user bound to ``edit`` in the namespace, whom RBAC authorizes
  on every request, on the encrypting server (the issue's "authorization and
  encryption on").

Rounds alternate off, on, both, off... so that drift of the shared machine
falls on every side, and the figures are ratios of the median rates. The
issue's target: with both on, within 10% of off.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.cluster import ServerProcess
from bench.report import Figure
from bench.stats import Latency
from orchestrator.apiserver.encryption.config import ensure_default_config

NAMESPACE = "bench"
PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets"
ROUNDS = 3  # per side; the median rate of each side is compared


def secret_body() -> dict[str, Any]:
    """A Secret as a platform writes one: a few keys, about 400 bytes of data."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "__NAME__", "labels": {"bench": "secrets"}},
        "type": "Opaque",
        "data": {"username": "YWRtaW4=", "password": "c2VjcmV0" * 40, "url": "aHR0cDovL2Ri"},
    }


@contextlib.contextmanager
def _store_for(store: str) -> Iterator[str]:
    if store == "sqlite":
        yield "sqlite"
        return
    from support.etcd import EtcdProcess  # tests/ is on the path once bench.api is imported

    with EtcdProcess() as etcd:
        yield f"etcd://{etcd.endpoint}"


async def compare(store: str, args: argparse.Namespace) -> dict[str, Latency]:
    """Median Secret creates/s of each side (``{"off": ..., "on": ..., "both": ...}``)."""
    from bench.api import run_wrk  # bench.api imports this module: import at use

    with (
        tempfile.TemporaryDirectory(prefix="bench-enc-") as tmp,
        _store_for(store) as plain_spec,
        _store_for(store) as sealed_spec,
    ):
        root = Path(tmp)
        (root / "off").mkdir()
        (root / "on").mkdir()
        config = ensure_default_config(root / "on" / "encryption.yaml")
        servers = {
            "off": ServerProcess(plain_spec, root / "off"),
            "on": ServerProcess(
                sealed_spec, root / "on", "--encryption-provider-config", str(config)
            ),
        }
        body = root / "secret.json"
        body.write_text(json.dumps(secret_body()))
        runs: dict[str, list[Latency]] = {"off": [], "on": [], "both": []}
        try:
            for server in servers.values():
                server.start()
                await _namespace(server)
            editor = await _editor(servers["on"])
            sides = [
                ("off", servers["off"], servers["off"].token),
                ("on", servers["on"], servers["on"].token),
                ("both", servers["on"], editor),
            ]
            for i in range(ROUNDS):
                for side, server, token in sides:
                    runs[side].append(
                        run_wrk(
                            server.url,
                            "api_create_body.lua",
                            args.seconds,
                            args.clients,
                            API_TOKEN=token,
                            NAME_PREFIX=f"{side}{i}",
                            API_PATH=PATH,
                            BODY_FILE=str(body),
                        )
                    )
        finally:
            for server in servers.values():
                server.stop()
    return {side: _median(latencies) for side, latencies in runs.items()}


async def _namespace(server: ServerProcess) -> None:
    async with server.client() as http:
        r = await http.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
        r.raise_for_status()


async def _editor(server: ServerProcess) -> str:
    from bench.api import editor_token

    async with server.client() as http:
        return await editor_token(server, http)


def _median(runs: list[Latency]) -> Latency:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def report_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, list[str], str]]:
    """(measure, one value per store, target) for bench.api's table."""
    stores = [r["secrets"] for r in results.values()]
    return [
        ("secret create/s, plain", [f"{s['off'].rate:.0f}" for s in stores], ""),
        ("secret create/s, aesgcm", [f"{s['on'].rate:.0f}" for s in stores], ""),
        (
            "secret create aesgcm / plain",
            [f"{s['on'].rate / max(s['off'].rate, 1e-9):.2f}" for s in stores],
            ">= 0.90",
        ),
        ("secret create p50 ms, aesgcm", [f"{s['on'].p50_ms:.2f}" for s in stores], ""),
        ("secret create/s, aesgcm + RBAC", [f"{s['both'].rate:.0f}" for s in stores], ""),
        (
            "secret create aesgcm + RBAC / plain admin",
            [f"{s['both'].rate / max(s['off'].rate, 1e-9):.2f}" for s in stores],
            ">= 0.90",
        ),
    ]


def figures(store: str, secrets: dict[str, Latency]) -> list[Figure]:
    off, on, both = secrets["off"], secrets["on"], secrets["both"]
    return [
        Figure(
            "api",
            f"{store}: secret create/s, RBAC-authorized and encrypted at rest",
            both.rate,
            "/s",
            better="higher",
            anchor=off.rate,
            anchor_name="Secret creates by system:masters without encryption, same store and run",
            target=0.9,
            of_anchor=True,
        ),
        Figure(
            "api",
            f"{store}: secret create/s, encrypted at rest",
            on.rate,
            "/s",
            better="higher",
            anchor=off.rate,
            anchor_name="Secret creates without encryption, same store and run, rounds alternated",
            target=0.9,
            of_anchor=True,
        ),
        Figure(
            "api",
            f"{store}: secret create p50, encrypted at rest",
            on.p50_ms,
            "ms",
            anchor=off.p50_ms,
            anchor_name="Secret creates without encryption, same store and run",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Only this comparison (``python -m bench.secretsatrest``); ``bench.api`` runs it too."""
    from bench import api  # puts tests/ on the path for the etcd launcher

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--stores", nargs="+", default=["sqlite", "etcd"])
    args = p.parse_args(argv)
    results = {store: {"secrets": compare(store, args)} for store in args.stores}
    width = 32
    print(f"{'measure':<{width}}" + "".join(f"{s:>12}" for s in results) + "   target")
    for name, values, target in report_rows(results):
        print(f"{name:<{width}}" + "".join(f"{v:>12}" for v in values) + f"   {target}")
    del api
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
