"""A real etcd for tests: one process on free loopback ports in a temporary data dir.

``start()`` picks two free ports (client and peer) by binding port 0, starts
etcd on them, and polls ``/health`` until it answers or a deadline passes.
Another process may grab a port between our probe and etcd's bind; etcd then
exits at once, so ``start()`` retries with fresh ports a few times. If etcd
never answers, it is killed and the error carries the tail of its log.

``stop()`` terminates etcd (SIGTERM, then SIGKILL after a grace period) and
removes the data dir; it is safe to call twice. etcd's output goes to a log
file inside the data dir rather than a pipe, so a chatty etcd cannot block on
a full pipe.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ETCD_BINARY = "etcd"


def etcd_available() -> bool:
    """Whether an etcd binary is on PATH."""
    return shutil.which(ETCD_BINARY) is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EtcdProcess:
    """One single-member etcd cluster on loopback; ``endpoint`` is "127.0.0.1:<port>"."""

    def __init__(self, *, ready_timeout: float = 20.0, attempts: int = 3) -> None:
        self._ready_timeout = ready_timeout
        self._attempts = attempts
        self._process: subprocess.Popen[bytes] | None = None
        self._data_dir: Path | None = None
        self.endpoint = ""

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> EtcdProcess:
        binary = shutil.which(ETCD_BINARY)
        if binary is None:
            raise RuntimeError("etcd is not installed (no 'etcd' on PATH)")
        failures: list[str] = []
        for _ in range(self._attempts):
            failure = self._start_once(binary)
            if failure is None:
                return self
            failures.append(failure)
        raise RuntimeError("etcd did not start:\n" + "\n---\n".join(failures))

    def _start_once(self, binary: str) -> str | None:
        """Start etcd and wait for it; None on success, else what went wrong."""
        self._data_dir = Path(tempfile.mkdtemp(prefix="paas-etcd-"))
        client, peer = _free_port(), _free_port()
        self.endpoint = f"127.0.0.1:{client}"
        client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        argv = [
            binary,
            "--name=test",
            f"--data-dir={self._data_dir / 'data'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=test={peer_url}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-level=warn",
        ]
        log_path = self._data_dir / "etcd.log"
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        if self._wait_healthy():
            return None
        tail = log_path.read_text(errors="replace")[-2000:]
        self.stop()
        return f"{' '.join(argv)}\n{tail}"

    def _wait_healthy(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if b'"true"' in response.read():
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)  # poll interval while waiting for the condition, not a fixed wait
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        data_dir, self._data_dir = self._data_dir, None
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)

    def __enter__(self) -> EtcdProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
