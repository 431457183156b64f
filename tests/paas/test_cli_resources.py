"""The resource commands of ``paas`` run as a real subprocess against a real API server."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.apiserver import RunningAPI

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: paas/stack:bookworm
        command: ["python3", "-m", "http.server", "8080"]
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {tier: config}
data:
  greeting: hello
"""


def paas(api: RunningAPI, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(api.kubeconfig)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=api.data_dir,
    )


def ok(api: RunningAPI, *args: str, stdin: str | None = None) -> str:
    result = paas(api, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFEST)
    return path


@pytest.fixture
def applied(sqlite_api: RunningAPI, manifest: Path) -> RunningAPI:
    ok(sqlite_api, "apply", "-f", str(manifest))
    return sqlite_api


def test_apply_creates_then_unchanged_then_configured(
    sqlite_api: RunningAPI, manifest: Path
) -> None:
    assert ok(sqlite_api, "apply", "-f", str(manifest)).splitlines() == [
        "deployment.apps/web created",
        "service/web created",
        "configmap/settings created",
    ]
    assert ok(sqlite_api, "apply", "-f", str(manifest)).splitlines() == [
        "deployment.apps/web unchanged",
        "service/web unchanged",
        "configmap/settings unchanged",
    ]
    manifest.write_text(MANIFEST.replace("replicas: 2", "replicas: 3"))
    assert ok(sqlite_api, "apply", "-f", str(manifest.parent)).splitlines() == [
        "deployment.apps/web configured",
        "service/web unchanged",
        "configmap/settings unchanged",
    ]
    with sqlite_api.http() as http:
        deploy = http.get("/apis/apps/v1/namespaces/default/deployments/web").json()
    assert deploy["spec"]["replicas"] == 3


def test_apply_from_stdin_warns_about_unknown_fields(sqlite_api: RunningAPI) -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\ndata: {a: b}\nbogus: 1\n"
    result = paas(sqlite_api, "apply", "-f", "-", stdin=doc)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configmap/odd created\n"
    assert 'Warning: unknown field "bogus"' in result.stderr


def test_get_table_columns(applied: RunningAPI) -> None:
    lines = ok(applied, "get", "deployments").splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[:2] == ["web", "0/2"]
    wide = ok(applied, "get", "deploy", "-o", "wide").splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["web", "paas/stack:bookworm", "app=web"]
    assert ok(applied, "get", "svc", "-o", "wide").splitlines()[0].split()[-1] == "SELECTOR"


def test_get_all_namespaces_labels_and_selectors(applied: RunningAPI) -> None:
    ok(
        applied,
        "apply",
        "-f",
        "-",
        stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
    )
    ok(
        applied,
        "apply",
        "-n",
        "team",
        "-f",
        "-",
        stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, labels: {tier: app}}\n",
    )
    lines = ok(applied, "get", "cm", "-A").splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert {tuple(line.split()[:2]) for line in lines[1:]} == {
        ("default", "settings"),
        ("team", "other"),
    }
    labelled = ok(applied, "get", "configmaps", "--show-labels").splitlines()
    assert labelled[0].split()[-1] == "LABELS"
    assert labelled[1].split()[-1] == "tier=config"
    assert ok(applied, "get", "cm", "-A", "-l", "tier=app", "-o", "name") == "configmap/other\n"
    assert ok(applied, "get", "cm", "-n", "team", "-o", "name") == "configmap/other\n"
    empty = paas(applied, "get", "cm", "-l", "tier=none")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr == "No resources found in default namespace.\n"


def test_get_short_names_and_several_kinds(applied: RunningAPI) -> None:
    assert ok(applied, "get", "deploy", "-o", "name") == "deployment.apps/web\n"
    assert ok(applied, "get", "cm", "settings", "-o", "name") == "configmap/settings\n"
    assert ok(applied, "get", "svc", "-o", "name") == "service/web\n"
    assert ok(applied, "get", "svc/web", "deploy/web", "-o", "name").splitlines() == [
        "service/web",
        "deployment.apps/web",
    ]
    out = ok(applied, "get", "deploy,svc")
    assert "deployment.apps/web" in out and "service/web" in out
    assert "\n\n" in out  # one table per kind
    everything = ok(applied, "get", "all")
    assert "service/web" in everything and "deployment.apps/web" in everything
    assert "configmap" not in everything


def test_get_yaml_and_json_round_trip(applied: RunningAPI) -> None:
    with applied.http() as http:
        live = http.get("/api/v1/namespaces/default/configmaps/settings").json()
    live["metadata"].pop("managedFields")  # hidden unless --show-managed-fields, as kubectl
    assert yaml.safe_load(ok(applied, "get", "cm", "settings", "-o", "yaml")) == live
    assert json.loads(ok(applied, "get", "configmap", "settings", "-o", "json")) == live
    listed = yaml.safe_load(ok(applied, "get", "deploy,cm", "-o", "yaml"))
    assert listed["kind"] == "List"
    assert [i["kind"] for i in listed["items"]] == ["Deployment", "ConfigMap"]
    dumped = ok(applied, "get", "deploy", "web", "-o", "yaml")
    assert ok(applied, "apply", "-f", "-", stdin=dumped) == "deployment.apps/web unchanged\n"


def test_describe_shows_key_fields_and_events(applied: RunningAPI) -> None:
    ok(
        applied,
        "apply",
        "-f",
        "-",
        stdin="""\
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.244.0.5}]
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Event
metadata: {name: web.1}
involvedObject: {apiVersion: apps/v1, kind: Deployment, name: web, namespace: default}
type: Normal
reason: ScalingReplicaSet
message: Scaled up replica set web-1 to 2
source: {component: deployment-controller}
""",
    )
    text = ok(applied, "describe", "deploy", "web")
    for part in (
        "Name:",
        "web",
        "Namespace:",
        "default",
        "Labels:",
        "app=web",
        "CreationTimestamp:",
        "2 desired",
        "StrategyType:",
        "RollingUpdate",
        "Pod Template:",
        "Image:",
        "paas/stack:bookworm",
        "Port:",
        "8080/TCP",
        "Events:",
        "ScalingReplicaSet",
        "deployment-controller",
        "Scaled up replica set web-1 to 2",
    ):
        assert part in text, part
    svc = ok(applied, "describe", "svc", "web")
    for part in (
        "Type:",
        "ClusterIP",
        "Port:",
        "http  80/TCP",
        "TargetPort:",
        "8080/TCP",
        "Endpoints:",
        "10.244.0.5:8080",
    ):
        assert part in svc, part
    assert svc.splitlines()[-1].split() == ["Events:", "<none>"]
    assert "ScalingReplicaSet" not in svc
    cm = ok(applied, "describe", "cm", "settings")
    assert "greeting:" in cm and "hello" in cm


def test_delete_by_file_by_name_and_by_label(applied: RunningAPI, manifest: Path) -> None:
    assert ok(applied, "delete", "cm", "settings") == 'configmap "settings" deleted\n'
    missing = paas(applied, "delete", "-f", str(manifest))
    assert missing.returncode == 1
    assert missing.stdout.splitlines() == ['deployment.apps "web" deleted', 'service "web" deleted']
    assert 'configmaps "settings" not found' in missing.stderr
    assert paas(applied, "get", "deploy", "web").returncode == 1
    ok(applied, "apply", "-f", str(manifest))
    assert ok(applied, "delete", "deploy,svc,cm", "-l", "app=web").splitlines() == [
        'deployment.apps "web" deleted'
    ]
    assert ok(
        applied, "delete", "-f", str(manifest), "--ignore-not-found", "--cascade=orphan"
    ).splitlines() == ['service "web" deleted', 'configmap "settings" deleted']


def test_invalid_manifest_names_the_fields_and_the_rest_still_applies(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
""")
    result = paas(sqlite_api, "apply", "-f", str(bad))
    assert result.returncode == 1
    assert result.stdout == "configmap/fine created\n"
    assert result.stderr.startswith(f'Error from server (Invalid): error when applying "{bad}"')
    assert "spec.template.spec.containers[0].image: Required value" in result.stderr


def test_yaml_error_names_file_and_line_and_applies_nothing(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"
    )
    result = paas(sqlite_api, "apply", "-f", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: error parsing {bad}:9:")
    assert paas(sqlite_api, "get", "cm", "first").returncode == 1


def test_unknown_kind_and_missing_object_errors(sqlite_api: RunningAPI) -> None:
    unknown = paas(sqlite_api, "get", "foo")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        'error: the server doesn\'t have a resource type "foo"\n',
    )
    missing = paas(sqlite_api, "get", "deploy", "nosuch")
    assert (missing.returncode, missing.stderr) == (
        1,
        'Error from server (NotFound): deployments.apps "nosuch" not found\n',
    )
    described = paas(sqlite_api, "describe", "svc", "nosuch")
    assert described.returncode == 1
    assert 'services "nosuch" not found' in described.stderr
    no_match = paas(
        sqlite_api,
        "apply",
        "-f",
        "-",
        stdin="apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    )
    assert no_match.returncode == 1
    assert 'no matches for kind "Widget" in version "example.com/v1"' in no_match.stderr


def test_unreachable_server_suggests_paas_up(sqlite_api: RunningAPI, tmp_path: Path) -> None:
    config = yaml.safe_load(sqlite_api.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "paas", "get", "pods", "--kubeconfig", str(dead)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "https://127.0.0.1:9" in result.stderr
    assert "paas up" in result.stderr


def _reader(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


def _next_line_containing(lines: queue.Queue[str], text: str, deadline: float) -> str:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no line containing {text!r} in time")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if text in line:
            return line


def test_get_watch_prints_a_row_when_an_object_is_created(applied: RunningAPI) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "paas", "get", "cm", "-w", "--kubeconfig", str(applied.kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        assert _next_line_containing(lines, "NAME", deadline).split()[:2] == ["NAME", "DATA"]
        _next_line_containing(lines, "settings", deadline)
        with applied.http() as http:
            r = http.post(
                "/api/v1/namespaces/default/configmaps",
                json={"metadata": {"name": "late"}, "data": {"a": "1", "b": "2"}},
            )
            assert r.status_code == 201, r.text
        assert _next_line_containing(lines, "late", deadline).split()[:2] == ["late", "2"]
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
