"""In-cluster clients in a pod of ``paas up``: the official ``kubernetes`` package and kubectl.

A pod on the process runtime (root mode: its own network and mount namespaces)
runs the host's Python with the ``kubernetes`` package, calls
``load_incluster_config()`` (KUBERNETES_SERVICE_HOST/PORT, the projected
token and ``ca.crt``) and lists the pods of its namespace, read from the
projected ``namespace`` file; TokenReview of its own token names it as
``system:serviceaccount:default:default`` bound to the pod. Then the
machine's kubectl, with no kubeconfig, does the same with its in-cluster
config. Both verify the API server's certificate with the projected CA:
nothing is passed with ``-k``.

On both runtimes, ``curl`` in a stack-image pod does what every in-cluster
client does by hand: the token as a bearer, the projected CA, the
``kubernetes.default.svc`` name the cluster DNS answers. On Docker, kubectl
itself, copied into a running stack-image container with ``kubectl cp``
(the image has no kubectl and no ``kubernetes`` package), lists the pods
its role lets it read and is refused Secrets.

Each client is allowed what the account's Role allows and refused the rest
with a 403 in Kubernetes' words.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from support.engines import require_engine
from support.kubelet import RUNTIMES, free_pod_cidr
from support.paasup import Up, apply, run_client, start_up
from support.wait import wait_until

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"

CLIENT = r"""
import json, pathlib, subprocess, sys
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

d = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")
config.load_incluster_config()
ns = (d / "namespace").read_text()
core = client.CoreV1Api()
pods = [p.metadata.name for p in core.list_namespaced_pod(ns).items]
try:
    core.list_namespaced_secret(ns)
    secrets = 200
except ApiException as exc:
    secrets = exc.status
review = client.AuthenticationV1Api().create_self_subject_review(client.V1SelfSubjectReview())
user = review.status.user_info
kubectl = sys.argv[1]
got = subprocess.run([kubectl, "get", "pods", "-o", "name"], capture_output=True, text=True)
refused = subprocess.run([kubectl, "get", "secrets"], capture_output=True, text=True)
who = subprocess.run([kubectl, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
                     capture_output=True, text=True)
print(json.dumps({
    "namespace": ns, "pods": pods, "secrets": secrets, "username": user.username,
    "extra": user.extra, "kubectl_pods": got.stdout.split(), "kubectl_secrets": refused.stderr,
    "kubectl_err": got.stderr + who.stderr, "kubectl_user": who.stdout,
}), flush=True)
"""


def let_default_account_read_pods(up: Up) -> None:
    """What an operator grants a workload: reading pods in its namespace, nothing more."""
    up.kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    up.kubectl(
        "create",
        "rolebinding",
        "pod-reader",
        "--role=pod-reader",
        "--serviceaccount=default:default",
    )


def test_pod_uses_the_api_with_its_service_account_token(tmp_path: Path) -> None:
    require_engine("root", os.geteuid() == 0, "root mode needs root")
    require_engine("kubectl", Path(KUBECTL).exists(), f"{KUBECTL} missing")
    name = f"incluster-{uuid.uuid4().hex[:6]}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "client",
                    "image": "paas/stack:bookworm",  # the node's own system on this runtime
                    "command": [sys.executable, "-c", CLIENT, KUBECTL],
                    # No kubeconfig anywhere: kubectl falls back to its in-cluster config.
                    "env": [{"name": "HOME", "value": "/tmp"}],
                }
            ],
        },
    }
    with start_up(tmp_path / "paas", "process", cluster_cidr=free_pod_cidr()) as up:
        let_default_account_read_pods(up)
        apply(up, json.dumps(pod))
        phase = "jsonpath={.status.phase}"
        wait_until(
            lambda: up.kubectl("get", "pod", name, "-o", phase).stdout in ("Succeeded", "Failed"),
            90,
            f"pod {name} to finish",
        )
        said = up.kubectl("logs", name).stdout
        assert up.kubectl("get", "pod", name, "-o", phase).stdout == "Succeeded", said
        uid = up.kubectl("get", "pod", name, "-o", "jsonpath={.metadata.uid}").stdout
    seen = json.loads(said.strip().splitlines()[-1])
    assert seen["namespace"] == "default"
    assert name in seen["pods"]
    assert seen["username"] == "system:serviceaccount:default:default"
    assert seen["extra"]["authentication.kubernetes.io/pod-name"] == [name]
    assert seen["extra"]["authentication.kubernetes.io/pod-uid"] == [uid]
    assert f"pod/{name}" in seen["kubectl_pods"], seen["kubectl_err"]
    assert seen["kubectl_user"] == "system:serviceaccount:default:default", seen["kubectl_err"]
    # The role gives pods, not Secrets: both clients are refused those, in Kubernetes' words.
    assert seen["secrets"] == 403
    assert (
        'secrets is forbidden: User "system:serviceaccount:default:default" cannot list '
        'resource "secrets"' in seen["kubectl_secrets"]
    ), seen["kubectl_secrets"]


# What any in-cluster client does: bearer token, projected CA, the API's in-cluster name.
CURL = (
    "d=/var/run/secrets/kubernetes.io/serviceaccount; "
    'curl -sS -m 10 --cacert $d/ca.crt -H "Authorization: Bearer $(cat $d/token)" '
    "https://kubernetes.default.svc/api/v1/namespaces/$(cat $d/namespace)/pods "
    "-o /dev/null -w 'pods:%{http_code}\\n'; "
    'curl -sS -m 10 --cacert $d/ca.crt -H "Authorization: Bearer $(cat $d/token)" '
    "https://kubernetes.default.svc/api/v1/namespaces/$(cat $d/namespace)/secrets "
    "-o /dev/null -w 'secrets:%{http_code}\\n'; "
    "curl -sS -m 10 -H 'Authorization: Bearer not-a-token' --cacert $d/ca.crt "
    "https://kubernetes.default.svc/api -o /dev/null -w 'forged:%{http_code}\\n'"
)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pod_on_each_runtime_reaches_the_api_with_its_token_and_ca(
    tmp_path: Path, runtime: str
) -> None:
    require_engine("root", os.geteuid() == 0, "root mode needs root")
    with start_up(tmp_path / "paas", runtime, cluster_cidr=free_pod_cidr()) as up:
        let_default_account_read_pods(up)
        said = run_client(up, CURL)
    assert "pods:200" in said and "secrets:403" in said and "forged:401" in said, said


@pytest.mark.docker
def test_kubectl_in_a_docker_container_uses_its_in_cluster_config(
    tmp_path: Path, stack_image: str
) -> None:
    require_engine("kubectl", Path(KUBECTL).exists(), f"{KUBECTL} missing")
    name = f"kubectl-{uuid.uuid4().hex[:6]}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "shell", "image": "paas/stack:bookworm", "command": ["sleep", "600"]}
            ]
        },
    }
    with start_up(tmp_path / "paas", "docker", cluster_cidr=free_pod_cidr()) as up:
        let_default_account_read_pods(up)
        apply(up, json.dumps(pod))
        up.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s", timeout=100)
        up.kubectl("cp", KUBECTL, f"{name}:/tmp/kubectl", timeout=120)
        inside = ("exec", name, "--", "/tmp/kubectl")
        got = up.kubectl(*inside, "get", "pods", "-o", "name", check=False)
        refused = up.kubectl(*inside, "get", "secrets", check=False)
    assert f"pod/{name}" in got.stdout.split(), got.stderr
    assert refused.returncode != 0
    assert (
        'secrets is forbidden: User "system:serviceaccount:default:default" cannot list '
        'resource "secrets"' in refused.stderr
    ), refused.stderr
