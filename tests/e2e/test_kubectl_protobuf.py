"""kubectl 1.32 and 1.33 create built-in kinds in protobuf; the objects equal 1.31's JSON ones.

kubectl 1.32+ POSTs ``create configmap|secret|namespace|deployment|job|
cronjob|service`` as ``application/vnd.kubernetes.protobuf`` and asks for
protobuf answers first (reference/kubectl-protobuf-and-streams.md §2). The
same commands run under 1.31 (JSON), 1.32 and 1.33, each in a namespace of
its own that the version itself creates; the stored objects must be the same
but for what the server assigns (uid, versions, times, cluster IPs) and
empty objects (``{}`` in JSON, nothing in protobuf: both "unset").
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e.conftest import kubectl_args, kubectl_env
from support.apiserver import RunningAPI
from support.engines import require_engine

BIN = Path("/usr/lib/google-cloud-sdk/bin")
PROTOBUF_VERSIONS = ("1.32", "1.33")
COMMANDS: list[tuple[str, list[str]]] = [
    (
        "configmaps/cm1",
        ["create", "configmap", "cm1", "--from-literal=a=b", "--from-literal=k2=v2"],
    ),
    ("secrets/s1", ["create", "secret", "generic", "s1", "--from-literal=password=s3cr3t"]),
    ("deployments/d1", ["create", "deployment", "d1", "--image=x", "--port=8080", "--replicas=3"]),
    ("jobs/j1", ["create", "job", "j1", "--image=x", "--", "echo", "hi"]),
    ("cronjobs/cj1", ["create", "cronjob", "cj1", "--image=x", "--schedule=*/5 * * * *"]),
    ("services/svc1", ["create", "service", "clusterip", "svc1", "--tcp=80:8080"]),
    # Beyond the captured bodies: the other create commands of kinds served here.
    (
        "services/np1",
        ["create", "service", "nodeport", "np1", "--tcp=81:8081"],
    ),
    ("services/ext1", ["create", "service", "externalname", "ext1", "--external-name=example.com"]),
    ("jobs/j2", ["create", "job", "j2", "--from=cronjob/cj1"]),
    (
        "secrets/reg1",
        [
            "create",
            "secret",
            "docker-registry",
            "reg1",
            "--docker-server=r.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
    ),
    (
        "ingresses/ing1",
        [
            "create",
            "ingress",
            "ing1",
            "--class=paas",
            "--rule=web.localhost/*=svc1:80",
            "--annotation=a=b",
        ],
    ),
]
PATHS = {
    "configmaps": "/api/v1/namespaces/{ns}/configmaps",
    "secrets": "/api/v1/namespaces/{ns}/secrets",
    "services": "/api/v1/namespaces/{ns}/services",
    "deployments": "/apis/apps/v1/namespaces/{ns}/deployments",
    "jobs": "/apis/batch/v1/namespaces/{ns}/jobs",
    "cronjobs": "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "ingresses": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
}


def _run(api: RunningAPI, tmp_path: Path, version: str, *args: str) -> str:
    binary = BIN / f"kubectl.{version}"
    require_engine("kubectl", binary.exists(), f"{binary} not installed")
    home = tmp_path / f"home-{version}"
    home.mkdir(exist_ok=True)
    argv = [str(binary), *kubectl_args(api, tmp_path / f"cache-{version}", *args)[1:]]
    result = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=kubectl_env(home),
        cwd=tmp_path,
    )
    if result.returncode != 0:
        pytest.fail(
            f"kubectl.{version} {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout


def _server_assigned(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what the server assigns per object (and the namespace it is in)."""
    meta = obj["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "namespace", "managedFields"):
        meta.pop(key, None)
    spec = obj.get("spec", {})
    if obj["kind"] == "Service":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
        for port in spec.get("ports", []):
            port.pop("nodePort", None)
    if obj["kind"] == "Job":  # the selector and labels carry the Job's own uid
        spec.pop("selector", None)
        for owner in meta.get("ownerReferences", []):
            owner.pop("uid")
        for labels in (meta.get("labels", {}), spec["template"]["metadata"].get("labels", {})):
            for key in [k for k in labels if "controller-uid" in k]:
                labels.pop(key)
    return obj


def test_kubectl_132_and_133_create_the_objects_kubectl_131_creates(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    stored: dict[str, dict[str, Any]] = {}
    with sqlite_api.http() as http:
        for version in ("1.31", *PROTOBUF_VERSIONS):
            ns = "ns" + version.replace(".", "")
            _run(sqlite_api, tmp_path, version, "create", "namespace", ns)
            namespace = http.get(f"/api/v1/namespaces/{ns}").json()
            assert namespace["status"]["phase"] == "Active"
            for _name, args in COMMANDS:
                _run(sqlite_api, tmp_path, version, "-n", ns, *args)
            for name, _args in COMMANDS:
                plural, obj_name = name.split("/")
                obj = http.get(PATHS[plural].format(ns=ns) + f"/{obj_name}").json()
                stored[f"{version} {name}"] = _server_assigned(obj)
    for version in PROTOBUF_VERSIONS:
        for name, _args in COMMANDS:
            diff = _diff(stored[f"{version} {name}"], stored[f"1.31 {name}"])
            assert not diff, (version, name, diff)
    assert stored["1.33 secrets/s1"]["data"] == {"password": "czNjcjN0"}


@pytest.mark.parametrize("version", PROTOBUF_VERSIONS)
def test_kubectl_create_prints_the_created_object_as_yaml(
    sqlite_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    out = _run(
        sqlite_api,
        tmp_path,
        version,
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--port=8080",
        "--replicas=2",
        "-o",
        "yaml",
    )
    printed = yaml.safe_load(out)
    assert printed["kind"] == "Deployment" and printed["apiVersion"] == "apps/v1"
    assert printed["metadata"]["name"] == "web" and printed["metadata"]["uid"]
    container = printed["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert printed["spec"]["replicas"] == 2
    got = _run(sqlite_api, tmp_path, version, "get", "deployment", "web", "-o", "yaml")
    assert yaml.safe_load(got)["metadata"]["uid"] == printed["metadata"]["uid"]


def _unset(value: Any) -> bool:
    """Absent, or an object of nothing but unset: Go's JSON writes ``{}`` for an unset struct
    (1.31's Ingress ``status: {loadBalancer: {}}``), protobuf leaves it out."""
    return value == "<absent>" or (isinstance(value, dict) and all(map(_unset, value.values())))


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if _unset(a) and _unset(b):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _diff(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize("version", PROTOBUF_VERSIONS)
def test_kubectl_commands_reading_protobuf_answers_work(
    sqlite_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    def run(*args: str) -> str:
        return _run(sqlite_api, tmp_path, version, *args)

    run("create", "deployment", "web", "--image=x", "--port=8080")
    run("scale", "deployment", "web", "--replicas=4")
    run("label", "deployment", "web", "tier=front")
    run("annotate", "deployment", "web", "note=hi")
    run("expose", "deployment", "web", "--port=80")
    run("run", "p1", "--image=x", "--labels=app=p1")
    run("create", "configmap", "c1", "--from-literal=a=b")
    run("set", "image", "deployment/web", "x=y")
    described = run("describe", "deployment", "web")
    assert "Replicas:" in described and "tier=front" in described
    web = yaml.safe_load(run("get", "deployment", "web", "-o", "yaml"))
    assert web["spec"]["replicas"] == 4
    assert web["metadata"]["labels"]["tier"] == "front"
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "y"
    service = yaml.safe_load(run("get", "service", "web", "-o", "yaml"))
    assert service["spec"]["ports"][0]["targetPort"] == 80  # defaults to the port
    assert "deleted" in run("delete", "configmap", "c1")
    assert "deleted" in run("delete", "pod", "p1", "--wait=false")
