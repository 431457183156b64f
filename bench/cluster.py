"""Starting the platform's processes for a benchmark, as they run in production.

``ServerProcess`` runs ``paas apiserver`` on a free port with its own data
dir (TLS and a token made there); ``ComponentProcess`` runs any other
``paas`` component against it with a kubeconfig. Each is its own process so
the load generator never shares an interpreter with what it measures.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from orchestrator.client.config import write_kubeconfig


class ServerProcess:
    def __init__(self, store: str, data_dir: Path, *flags: str) -> None:
        self.store = store
        self.data_dir = data_dir
        self.flags = flags  # more ``paas apiserver`` flags
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""

    def start(self) -> ServerProcess:
        py = sys.executable
        self.token = subprocess.check_output(
            [
                py,
                "-m",
                "paas",
                "token",
                "create",
                "--role",
                "admin",
                "--data-dir",
                str(self.data_dir),
            ],
            text=True,
        ).strip()
        address = self.data_dir / "address"
        log = (self.data_dir / "apiserver.log").open("wb")
        self.process = subprocess.Popen(
            [
                py,
                "-m",
                "paas",
                "apiserver",
                "--data-dir",
                str(self.data_dir),
                "--port",
                "0",
                "--store",
                self.store,
                "--address-file",
                str(address),
                *self.flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not address.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"apiserver did not start; see {self.data_dir}/apiserver.log")
            time.sleep(0.05)
        self.url = address.read_text().strip()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)

    def client(self, **kw: Any) -> httpx.AsyncClient:
        ctx = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        options: dict[str, Any] = {"timeout": 60, "limits": httpx.Limits(max_connections=64)}
        options.update(kw)
        return httpx.AsyncClient(
            base_url=self.url,
            verify=ctx,
            headers={"Authorization": f"Bearer {self.token}"},
            **options,
        )

    def kubeconfig(self) -> Path:
        path = self.data_dir / "kubeconfig"
        write_kubeconfig(
            path, server=self.url, token=self.token, ca_pem=(self.data_dir / "ca.crt").read_bytes()
        )
        return path


class ComponentProcess:
    """``paas <argv...>`` in the background, its output in ``DATA/<name>.log``."""

    def __init__(self, name: str, argv: list[str], data_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ComponentProcess:
        log = (self.data_dir / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "paas", *self.argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
