"""Control-plane components as real processes against a test API server.

    procs = ComponentProcesses(api, tmp_path)
    leader = procs.start("controller-manager", *FAST_LEASE)
    ...
    procs.kill(leader)          # SIGKILL: no clean-up, no lease release
    procs.stop_all()

Each runs ``python -m paas <command> --kubeconfig <the test's kubeconfig>``,
its output in ``<logs>/<command>-<n>.log``. ``identity_of`` matches a
process to the holder named in a Lease (identities carry the pid).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from support.apiserver import RunningAPI

ROOT = Path(__file__).resolve().parents[2]
FAST_LEASE = (
    "--leader-elect-lease-duration=1",
    "--leader-elect-renew-deadline=0.6",
    "--leader-elect-retry-period=0.1",
)


class ComponentProcesses:
    def __init__(self, api: RunningAPI, logs: Path) -> None:
        self.api = api
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, command: str, *flags: str) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{command}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "paas",
                    command,
                    "--kubeconfig",
                    str(self.api.kubeconfig),
                    *flags,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def by_identity(self, holder: str) -> subprocess.Popen[bytes] | None:
        """The process whose pid is in a leader identity (``host_pid_suffix``)."""
        parts = holder.split("_")
        pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else -1
        return next((p for p in self.procs if p.pid == pid), None)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
