"""``kubectl events`` (1.27 and 1.33) and ``kubectl get events -w`` against our API server.

kubectl events lists core/v1 Events with its own columns, filters them with
``--for`` (a fieldSelector on involvedObject's kind and name, and its
apiVersion from 1.33 on) and ``--types``, and ``-w``
streams new ones; ``get events -w`` streams the server's table rows. All of
it already worked; these tests keep it so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.kubectlbin import kubectl_argv, kubectl_env, run_kubectl
from support.wait import wait_until


@pytest.fixture(scope="module")
def events_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    running = start_api(tmp_path_factory.mktemp("api"))
    try:
        yield running
    finally:
        running.stop()


def argv(api: RunningAPI, version: str, home: Path, *args: str) -> list[str]:
    return kubectl_argv(version, home, ["--kubeconfig", str(api.kubeconfig)], *args)


def kubectl(api: RunningAPI, version: str, home: Path, *args: str, stdin: str = "") -> str:
    done = run_kubectl(version, home, ["--kubeconfig", str(api.kubeconfig)], *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def event(name: str, kind: str, obj: str, type_: str, reason: str, message: str) -> str:
    return f"""
apiVersion: v1
kind: Event
metadata: {{name: {name}}}
involvedObject:
  apiVersion: {"apps/v1" if kind == "Deployment" else "v1"}
  kind: {kind}
  name: {obj}
  namespace: NS
reason: {reason}
message: {message}
type: {type_}
source: {{component: test}}
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
count: 1
"""


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_events_lists_and_filters_by_object_and_type(
    events_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    ns = f"ev{version.replace('.', '')}"
    kubectl(events_api, version, tmp_path, "create", "namespace", ns)
    for body in (
        event("a.1", "Deployment", "web", "Normal", "ScalingReplicaSet", "Scaled up to 1"),
        event("b.1", "Pod", "web-x", "Warning", "BackOff", "Back-off restarting"),
    ):
        kubectl(
            events_api,
            version,
            tmp_path,
            "-n",
            ns,
            "create",
            "-f",
            "-",
            stdin=body.replace("NS", ns),
        )
    header, *rows = kubectl(events_api, version, tmp_path, "-n", ns, "events").splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert len(rows) == 2
    mine = kubectl(events_api, version, tmp_path, "-n", ns, "events", "--for", "deployment/web")
    assert "Scaled up to 1" in mine and "Back-off" not in mine
    warnings = kubectl(events_api, version, tmp_path, "-n", ns, "events", "--types=Warning")
    assert "Back-off restarting" in warnings and "Scaled up" not in warnings


@pytest.mark.parametrize(
    ("version", "command"),
    [("1.27", ("events", "-w")), ("1.33", ("events", "-w")), ("1.33", ("get", "events", "-w"))],
)
def test_watching_events_streams_new_ones(
    events_api: RunningAPI, tmp_path: Path, version: str, command: tuple[str, ...]
) -> None:
    ns = f"w{version.replace('.', '')}{len(command)}"
    kubectl(events_api, version, tmp_path, "create", "namespace", ns)
    first = event("one.1", "Pod", "p", "Normal", "Pulled", "first event")
    kubectl(
        events_api, version, tmp_path, "-n", ns, "create", "-f", "-", stdin=first.replace("NS", ns)
    )
    out = tmp_path / "watch.out"
    with open(out, "w") as sink:
        watcher = subprocess.Popen(
            argv(events_api, version, tmp_path, "-n", ns, *command),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=kubectl_env(tmp_path),
        )
        try:
            wait_until(lambda: "first event" in out.read_text(), 20, "no first row")
            second = event("two.1", "Pod", "p", "Warning", "Failed", "second event")
            kubectl(
                events_api,
                version,
                tmp_path,
                "-n",
                ns,
                "create",
                "-f",
                "-",
                stdin=second.replace("NS", ns),
            )
            wait_until(lambda: "second event" in out.read_text(), 20, out.read_text())
        finally:
            watcher.terminate()
            watcher.wait(10)
