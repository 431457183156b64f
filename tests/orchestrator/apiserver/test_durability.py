"""Every write the API server acknowledged survives SIGKILL of the ``paas apiserver`` process."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str


def _paas(*args: str) -> list[str]:
    return [sys.executable, "-m", "paas", *args]


def start(data_dir: Path, log: Path) -> Process:
    address = data_dir / "run" / "apiserver.url"
    address.unlink(missing_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            _paas(
                "apiserver",
                "--data-dir",
                str(data_dir),
                "--port",
                "0",
                "--address-file",
                str(address),
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while not address.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"paas apiserver did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return Process(proc, address.read_text().strip())


def kill(p: Process) -> None:
    p.proc.send_signal(signal.SIGKILL)
    p.proc.wait(10)


def client(data_dir: Path, url: str, token: str) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(data_dir / "ca.crt"))
    return httpx.Client(
        base_url=url, verify=ctx, timeout=10, headers={"Authorization": f"Bearer {token}"}
    )


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    token = subprocess.run(
        _paas("token", "create", "--role", "admin", "--data-dir", str(data_dir)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    log = tmp_path / "apiserver.log"
    server = start(data_dir, log)
    acked: dict[str, str] = {}
    last_rv = 0
    stop = threading.Event()

    def write_until_killed() -> None:
        nonlocal last_rv
        with client(data_dir, server.url, token) as http:
            i = 0
            while not stop.is_set():
                name = f"cm-{i}"
                try:
                    r = http.post(
                        CONFIGMAPS, json={"metadata": {"name": name}, "data": {"i": str(i)}}
                    )
                except httpx.HTTPError:
                    return
                assert r.status_code == 201, r.text
                acked[name] = str(i)
                last_rv = max(last_rv, int(r.json()["metadata"]["resourceVersion"]))
                i += 1

    try:
        with client(data_dir, server.url, token) as http:
            r = http.post(CONFIGMAPS, json={"metadata": {"name": "first"}})
            assert r.status_code == 201, r.text
            updated = http.patch(
                f"{CONFIGMAPS}/first",
                json={"data": {"v": "2"}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert updated.status_code == 200
        writer = threading.Thread(target=write_until_killed)
        writer.start()
        deadline = time.monotonic() + 20
        while len(acked) < 30 and writer.is_alive():
            assert time.monotonic() < deadline, "writes too slow"
            time.sleep(0.01)
        kill(server)
        stop.set()
        writer.join(20)
        assert len(acked) >= 30

        server = start(data_dir, log)
        with client(data_dir, server.url, token) as http:
            items = http.get(CONFIGMAPS).json()["items"]
            stored = {o["metadata"]["name"]: o.get("data", {}).get("i") for o in items}
            assert http.get(f"{CONFIGMAPS}/first").json()["data"] == {"v": "2"}
            missing = {name for name in acked if stored.get(name) != acked[name]}
            assert not missing, f"acknowledged but lost: {sorted(missing)}"
            after = http.post(CONFIGMAPS, json={"metadata": {"name": "after-restart"}}).json()
            assert int(after["metadata"]["resourceVersion"]) > last_rv
    finally:
        stop.set()
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(10)
            except subprocess.TimeoutExpired:
                kill(server)
