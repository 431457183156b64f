"""A real ``paas node`` as its own process, and HTTP reads of what its pods serve.

Tests that kill a node agent with SIGKILL, or need the proxy it starts, run
``python -m paas node`` against a test API server; its output goes to ``log``.
The node joins with its own identity (``system:node:<name>`` in
``system:nodes``), as ``paas token create --node`` makes it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from pathlib import Path

from orchestrator.apiserver.auth import add_token
from orchestrator.pki import write_private
from support.apiserver import RunningAPI

ROOT = Path(__file__).resolve().parents[2]


def start_node(
    api: RunningAPI,
    kind: str,
    name: str,
    data_dir: Path,
    *,
    pod_cidr: str,
    cluster_cidr: str,
    log: Path,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """``paas node --runtime kind`` joined to ``api`` as ``system:node:<name>``, with its pods
    in ``pod_cidr``.

    The token goes in a 0600 file beside ``log`` (``--token-file``), never on the command line.
    """
    token = add_token(
        api.data_dir / "tokens.json", user=f"system:node:{name}", groups=["system:nodes"]
    )
    token_file = log.with_name(log.name + ".token")
    write_private(token_file, token + "\n")
    argv = [
        sys.executable,
        "-m",
        "paas",
        "node",
        "--join",
        api.url,
        "--token-file",
        str(token_file),
        "--ca",
        str(api.ca),
        "--name",
        name,
        "--runtime",
        kind,
        "--data-dir",
        str(data_dir),
        "--pod-cidr",
        pod_cidr,
        "--cluster-cidr",
        cluster_cidr,
        *extra,
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
        )


async def fetch(url: str) -> str | None:
    """The body at ``url`` (no proxy from the environment), or None if it does not answer."""

    def get() -> str | None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return None

    return await asyncio.to_thread(get)
