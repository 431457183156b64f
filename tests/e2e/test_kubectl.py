"""kubectl, as it comes, against the API server: every minor version the machine has.

Each test runs once per kubectl binary of the machine (``kubectl.1.27`` to
the newest, on SQLite: the client is what differs) and once with the
dispatcher on PATH against etcd (the store is what differs; the dispatcher
picks the kubectl of the server's version). Each kubectl call costs a
fraction of a second, so each test walks through a whole user session
rather than one command.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from support.apiserver import RunningAPI, start_api, wipe_etcd
from support.kubectlbin import KUBECTL_VERSIONS, versioned_kubectl

from orchestrator import pki
from orchestrator.apiserver.discovery import SERVER_VERSION

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

CASES = [pytest.param(("sqlite", v), id=f"kubectl-{v}") for v in KUBECTL_VERSIONS] + [
    pytest.param(("etcd", "dispatcher"), id="etcd-dispatcher", marks=pytest.mark.etcd)
]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(store, kubectl version) of this run."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def api(
    case: tuple[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[RunningAPI]:
    store = "sqlite"
    if case[0] == "etcd":
        endpoint = request.getfixturevalue("etcd_endpoint")
        wipe_etcd(endpoint)
        store = f"etcd://{endpoint}"
    running = start_api(tmp_path / "api", store)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def kubectl_binary(case: tuple[str, str]) -> str:
    return versioned_kubectl(case[1])


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: paas/stack:bookworm
        command: [python3, -m, http.server, "8080"]
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports:
        - containerPort: 8080
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {app: web}
data:
  greeting: hello
"""


def manifest(*docs: str) -> str:
    return "---\n".join(docs)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def rows(output: str) -> dict[str, list[str]]:
    """Table rows keyed by their first cell."""
    return {line.split()[0]: line.split() for line in output.splitlines()[1:] if line.strip()}


def describe_fields(output: str) -> dict[str, str]:
    """``Key:   value`` lines of ``kubectl describe``, first occurrence of each key."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" "):
            found.setdefault(key, value.strip())
    return found


def get_json(api: RunningAPI, path: str) -> dict:
    with api.http() as http:
        r = http.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def status_code(api: RunningAPI, path: str) -> int:
    with api.http() as http:
        return http.get(path).status_code


DEPLOY_PATH = "/apis/apps/v1/namespaces/default/deployments/web"
SVC_PATH = "/api/v1/namespaces/default/services/web"
CM_PATH = "/api/v1/namespaces/default/configmaps/web-config"


def test_apply_get_change_and_delete_a_manifest(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    first = write(tmp_path / "app.yaml", manifest(DEPLOYMENT, SERVICE, CONFIGMAP))

    # apply with kubectl's default (client-side) validation
    out = kubectl("apply", "-f", first).stdout
    assert "deployment.apps/web created" in out
    assert "service/web created" in out
    assert "configmap/web-config created" in out
    deploy = get_json(api, DEPLOY_PATH)
    assert "kubectl.kubernetes.io/last-applied-configuration" in deploy["metadata"]["annotations"]

    # apply again, changed: a label, an env var dropped (a strategic-merge patch), the data
    changed = manifest(
        DEPLOYMENT.replace("tier: front", "tier: back").replace(', {name: B, value: "2"}', ""),
        SERVICE,
        CONFIGMAP.replace("greeting: hello", "greeting: hi"),
    )
    second = write(tmp_path / "app2.yaml", changed)
    out = kubectl("apply", "-f", second).stdout
    assert "deployment.apps/web configured" in out
    assert "service/web unchanged" in out
    assert "configmap/web-config configured" in out
    assert get_json(api, CM_PATH)["data"] == {"greeting": "hi"}
    deploy = get_json(api, DEPLOY_PATH)
    assert deploy["metadata"]["labels"] == {"app": "web", "tier": "back"}
    assert deploy["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"}
    ]

    # tables with the familiar columns, several kinds at once
    out = kubectl("get", "deploy,svc,cm").stdout
    blocks = [b for b in out.split("\n\n") if b.strip()]
    by_kind = {b.splitlines()[1].split()[0].split("/")[0]: b for b in blocks}
    assert header(by_kind["deployment.apps"]) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows(by_kind["deployment.apps"])["deployment.apps/web"][1] == "0/1"
    svc_header = header(by_kind["service"])
    assert svc_header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    svc_row = rows(by_kind["service"])["service/web"]
    assert svc_row[1] == "ClusterIP"
    assert svc_row[4] == "80/TCP"
    assert header(by_kind["configmap"]) == ["NAME", "DATA", "AGE"]
    assert rows(by_kind["configmap"])["configmap/web-config"][1] == "1"

    # -o wide adds the priority-1 columns
    out = kubectl("get", "deploy", "web", "-o", "wide").stdout
    assert header(out) == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert rows(out)["web"][5:] == ["web", "paas/stack:bookworm", "app=web"]

    # -o yaml: the stored object, defaulted
    obj = yaml.safe_load(kubectl("get", "deploy", "web", "-o", "yaml").stdout)
    assert obj["kind"] == "Deployment"
    assert obj["metadata"]["labels"]["tier"] == "back"
    ports = obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 8080, "protocol": "TCP"}]

    # -A with a NAMESPACE column, --show-labels, -l and --field-selector
    out = kubectl("get", "cm", "-A", "--show-labels").stdout
    assert header(out) == ["NAMESPACE", "NAME", "DATA", "AGE", "LABELS"]
    assert rows(out)["default"][1:3] == ["web-config", "1"]
    assert rows(out)["default"][-1] == "app=web"
    out = kubectl("get", "deploy,svc,cm", "-l", "app=web", "-o", "name").stdout
    assert sorted(out.split()) == ["configmap/web-config", "deployment.apps/web", "service/web"]
    out = kubectl("get", "deploy,svc,cm", "-l", "tier in (back)", "-o", "name").stdout
    assert out.split() == ["deployment.apps/web"]
    out = kubectl(
        "get", "deploy,svc,cm", "--field-selector", "metadata.name=web", "-o", "name"
    ).stdout
    assert sorted(out.split()) == ["deployment.apps/web", "service/web"]

    # scale, label, annotate
    assert "deployment.apps/web scaled" in kubectl("scale", "deploy", "web", "--replicas=3").stdout
    assert get_json(api, DEPLOY_PATH)["spec"]["replicas"] == 3
    assert "configmap/web-config labeled" in kubectl("label", "cm", "web-config", "env=test").stdout
    # kubectl 1.27 says "annotate" (its own typo, fixed in 1.28)
    annotated = kubectl("annotate", "cm", "web-config", "owner=me").stdout
    assert annotated.strip() in ("configmap/web-config annotated", "configmap/web-config annotate")
    meta = get_json(api, CM_PATH)["metadata"]
    assert meta["labels"] == {"app": "web", "env": "test"}
    assert meta["annotations"]["owner"] == "me"

    # server-side apply
    ssa = write(
        tmp_path / "ssa.yaml", CONFIGMAP.replace("greeting: hello", "greeting: ssa\n  extra: one")
    )
    out = kubectl("apply", "--server-side", "-f", ssa).stdout
    assert "configmap/web-config serverside-applied" in out
    assert get_json(api, CM_PATH)["data"] == {"greeting": "ssa", "extra": "one"}

    # diff: shows the change, exits 1, persists nothing
    before = get_json(api, DEPLOY_PATH)
    diffed = write(
        tmp_path / "diff.yaml",
        DEPLOYMENT.replace("tier: front", "tier: diffed").replace("replicas: 1", "replicas: 5"),
    )
    result = kubectl("diff", "-f", diffed, check=False)
    assert result.returncode == 1, result.stderr
    assert "+    tier: diffed" in result.stdout
    assert "-    tier: back" in result.stdout
    assert "+  replicas: 5" in result.stdout
    after = get_json(api, DEPLOY_PATH)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 3

    # a server-side dry run of the delete deletes nothing
    out = kubectl("delete", "-f", second, "--dry-run=server").stdout
    assert 'deployment.apps "web" deleted (server dry run)' in out
    for path in (DEPLOY_PATH, SVC_PATH, CM_PATH):
        assert status_code(api, path) == 200

    # delete -f removes everything it names
    out = kubectl("delete", "-f", second).stdout
    assert 'deployment.apps "web" deleted' in out
    assert 'service "web" deleted' in out
    assert 'configmap "web-config" deleted' in out
    for path in (DEPLOY_PATH, SVC_PATH, CM_PATH):
        assert status_code(api, path) == 404


def test_get_watch_prints_changes_as_they_happen(
    api: RunningAPI, kubectl: Kubectl, kubectl_stream
) -> None:
    with api.http() as http:
        r = http.post(
            "/api/v1/namespaces/default/configmaps",
            json={"metadata": {"name": "before"}, "data": {"a": "1"}},
        )
        assert r.status_code == 201, r.text
    watch = kubectl_stream("get", "cm", "-w")
    line = watch.wait_for(lambda s: s.startswith("before"))
    assert header(watch.lines[0]) == ["NAME", "DATA", "AGE"]
    assert line.split()[1] == "1"
    with api.http() as http:
        # a Service allocates a cluster IP: writes that are not objects must not stall watches
        r = http.post(
            "/api/v1/namespaces/default/services",
            json={"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
        )
        assert r.status_code == 201, r.text
        r = http.post(
            "/api/v1/namespaces/default/configmaps",
            json={"metadata": {"name": "during"}, "data": {"a": "1"}},
        )
        assert r.status_code == 201, r.text
        watch.wait_for(lambda s: s.split()[:2] == ["during", "1"])
        r = http.patch(
            "/api/v1/namespaces/default/configmaps/during",
            json={"data": {"b": "2"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        watch.wait_for(lambda s: s.split()[:2] == ["during", "2"])
    # the list's resourceVersion is honoured: "before" is not replayed
    assert sum(line.startswith("before") for line in watch.lines) == 1


def test_imperative_commands_discovery_and_describe(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["major"] == "1"
    assert version["serverVersion"]["minor"] == SERVER_VERSION["minor"]
    assert version["serverVersion"]["gitVersion"] == SERVER_VERSION["gitVersion"]

    out = kubectl("api-resources").stdout
    table: dict[str, list[str]] = {}  # the first row of a name: core and apps come first
    for line in out.splitlines()[1:]:
        table.setdefault(line.split()[0], line.split())
    assert header(out)[:3] == ["NAME", "SHORTNAMES", "APIVERSION"]
    # metrics.k8s.io serves pods and nodes too, as metrics-server's API does
    assert ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"] in (
        line.split() for line in out.splitlines()
    )
    for name, short in [
        ("configmaps", "cm"),
        ("deployments", "deploy"),
        ("services", "svc"),
        ("pods", "po"),
        ("namespaces", "ns"),
        ("nodes", "no"),
        ("events", "ev"),
        ("replicasets", "rs"),
    ]:
        assert table[name][1] == short, table[name]

    assert "configmap/x created" in kubectl("create", "configmap", "x", "--from-literal=a=b").stdout
    assert get_json(api, "/api/v1/namespaces/default/configmaps/x")["data"] == {"a": "b"}
    out = kubectl(
        "create", "deployment", "made", "--image=paas/stack:bookworm", "--replicas=2"
    ).stdout
    assert "deployment.apps/made created" in out
    made = get_json(api, "/apis/apps/v1/namespaces/default/deployments/made")
    assert made["spec"]["replicas"] == 2
    assert made["spec"]["selector"] == {"matchLabels": {"app": "made"}}

    svc = write(tmp_path / "svc.yaml", SERVICE)
    kubectl("apply", "-f", svc)

    # `get all` expands the "all" category
    out = kubectl("get", "all").stdout
    assert "deployment.apps/made" in out
    assert "service/web" in out
    assert "configmap" not in out

    # rollout history reads ReplicaSets; without the deployment controller there are none
    out = kubectl("rollout", "history", "deploy/made").stdout
    assert out.split("\n")[:2] == ["deployment.apps/made ", "No rollout history found."]

    # events: one posted through the API, shown by get and describe
    cm = get_json(api, "/api/v1/namespaces/default/configmaps/x")
    event = {
        "metadata": {"name": "x.1"},
        "involvedObject": {
            "kind": "ConfigMap",
            "namespace": "default",
            "name": "x",
            "uid": cm["metadata"]["uid"],
            "apiVersion": "v1",
        },
        "reason": "Checked",
        "message": "looked at it",
        "type": "Normal",
        "source": {"component": "e2e"},
        "count": 1,
        "firstTimestamp": cm["metadata"]["creationTimestamp"],
        "lastTimestamp": cm["metadata"]["creationTimestamp"],
    }
    with api.http() as http:
        r = http.post("/api/v1/namespaces/default/events", json=event)
        assert r.status_code == 201, r.text
    out = kubectl("get", "events").stdout
    assert header(out) == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "Normal" in out and "Checked" in out and "configmap/x" in out and "looked at it" in out

    out = kubectl("describe", "configmap", "x").stdout
    described = describe_fields(out)
    assert described["Name"] == "x"
    assert described["Namespace"] == "default"
    assert "Data\n====\na:\n----\nb" in out
    assert "Normal  Checked" in out  # its events
    out = kubectl("describe", "service", "web").stdout
    described = describe_fields(out)
    assert described["Type"] == "ClusterIP"
    assert described["IP Family Policy"] == "SingleStack"
    assert described["IP Families"] == "IPv4"
    assert described["IP"] == get_json(api, SVC_PATH)["spec"]["clusterIP"]
    assert described["Port"] == "<unset>  80/TCP"
    assert described["TargetPort"] == "8080/TCP"
    assert described["Selector"] == "app=web"


def test_errors_are_reported_as_kubectl_users_know_them(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    result = kubectl("get", "deploy", "nosuch", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.strip() == 'Error from server (NotFound): deployments.apps "nosuch" not found'
    )

    no_selector = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: broken}
        spec:
          template:
            metadata: {labels: {app: broken}}
            spec:
              containers: [{name: c, image: paas/stack:bookworm}]
        """)
    result = kubectl("apply", "-f", write(tmp_path / "bad.yaml", no_selector), check=False)
    assert result.returncode == 1
    assert 'The Deployment "broken" is invalid: spec.selector: Required value' in result.stderr

    unknown_field = CONFIGMAP.replace("\ndata:", "\ndtaa:")
    result = kubectl("apply", "-f", write(tmp_path / "unknown.yaml", unknown_field), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error from server (BadRequest): ")
    assert 'unknown field "dtaa"' in result.stderr
    assert status_code(api, CM_PATH) == 404


def test_imperative_create_of_each_kind_stores_what_kubectl_meant(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    """``kubectl create <kind>`` for every kind it can make that the server serves.

    kubectl 1.32 and newer send these bodies as protobuf; older ones as JSON.
    Either way the stored object is the same.
    """
    cert = pki.ensure_self_signed_cert(tmp_path / "tls", "site", ["site.example"])

    def created(*args: str) -> None:
        out = kubectl("create", *args).stdout
        assert " created" in out, out

    created("namespace", "team-a")
    created("configmap", "cm1", "--from-literal=a=b", "--from-literal=k2=v2")
    created("secret", "generic", "s1", "--from-literal=password=s3cr3t")
    created("secret", "tls", "site", f"--cert={cert.cert}", f"--key={cert.key}")
    created(
        "secret",
        "docker-registry",
        "pull",
        "--docker-server=r.example",
        "--docker-username=u",
        "--docker-password=p",
    )
    created("deployment", "d1", "--image=paas/stack:bookworm", "--port=8080", "--replicas=3")
    created("job", "j1", "--image=paas/stack:bookworm", "--", "echo", "hi")
    created("cronjob", "cj1", "--image=paas/stack:bookworm", "--schedule=*/5 * * * *")
    created("job", "from-cj", "--from=cronjob/cj1")
    created("service", "clusterip", "svc1", "--tcp=80:8080")
    created("service", "nodeport", "np1", "--tcp=80:8080")
    created("service", "externalname", "ext1", "--external-name=db.example")
    created("ingress", "ing1", "--rule=site.example/api*=svc1:80")

    def obj(path: str) -> dict:
        return get_json(api, path)

    assert obj("/api/v1/namespaces/team-a")["status"]["phase"] == "Active"
    assert obj("/api/v1/namespaces/default/configmaps/cm1")["data"] == {"a": "b", "k2": "v2"}
    s1 = obj("/api/v1/namespaces/default/secrets/s1")
    assert s1["type"] == "Opaque"
    assert s1["data"] == {"password": "czNjcjN0"}  # base64 of the raw bytes
    site = obj("/api/v1/namespaces/default/secrets/site")
    assert site["type"] == "kubernetes.io/tls"
    assert base64.b64decode(site["data"]["tls.crt"]) == cert.cert.read_bytes()
    pull = obj("/api/v1/namespaces/default/secrets/pull")
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))["auths"]
    assert auths["r.example"]["username"] == "u"

    d1 = obj("/apis/apps/v1/namespaces/default/deployments/d1")
    assert d1["spec"]["replicas"] == 3
    assert d1["spec"]["selector"] == {"matchLabels": {"app": "d1"}}
    (container,) = d1["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "stack"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert d1["metadata"]["creationTimestamp"]  # set by the server, not an empty time
    assert "status" not in d1 or d1["status"].get("replicas", 0) == 0

    j1 = obj("/apis/batch/v1/namespaces/default/jobs/j1")
    (container,) = j1["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["echo", "hi"]
    assert j1["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    cj1 = obj("/apis/batch/v1/namespaces/default/cronjobs/cj1")
    assert cj1["spec"]["schedule"] == "*/5 * * * *"
    assert cj1["spec"]["concurrencyPolicy"] == "Allow"  # "" on the wire means the default
    from_cj = obj("/apis/batch/v1/namespaces/default/jobs/from-cj")
    assert from_cj["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert from_cj["metadata"]["ownerReferences"][0]["name"] == "cj1"

    svc1 = obj("/api/v1/namespaces/default/services/svc1")
    assert svc1["spec"]["type"] == "ClusterIP"
    assert svc1["spec"]["clusterIP"]
    (port,) = svc1["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("80-8080", 80, 8080)
    np1 = obj("/api/v1/namespaces/default/services/np1")
    assert np1["spec"]["type"] == "NodePort"
    assert 30000 <= np1["spec"]["ports"][0]["nodePort"] <= 32767
    ext1 = obj("/api/v1/namespaces/default/services/ext1")
    assert (ext1["spec"]["type"], ext1["spec"]["externalName"]) == ("ExternalName", "db.example")
    ing1 = obj("/apis/networking.k8s.io/v1/namespaces/default/ingresses/ing1")
    (rule,) = ing1["spec"]["rules"]
    assert rule["host"] == "site.example"
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/api", "Prefix")
    assert path["backend"]["service"] == {"name": "svc1", "port": {"number": 80}}

    # an object that exists already: kubectl's own words, nothing changed
    again = kubectl("create", "configmap", "cm1", "--from-literal=a=other", check=False)
    assert again.returncode == 1
    assert 'configmaps "cm1" already exists' in again.stderr
    assert obj("/api/v1/namespaces/default/configmaps/cm1")["data"] == {"a": "b", "k2": "v2"}
