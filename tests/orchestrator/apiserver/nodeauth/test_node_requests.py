"""Nodes through the whole request path: the Node authorizer, then RBAC, Kubernetes' 403s."""

from __future__ import annotations

from support.apiserver import RunningAPI

from orchestrator.apiserver.auth import add_token

SECRETS = "/api/v1/namespaces/default/secrets"
PODS = "/api/v1/namespaces/default/pods"


def test_a_node_reads_the_secret_of_its_pod_and_no_other(sqlite_api: RunningAPI) -> None:
    tokens = sqlite_api.data_dir / "tokens.json"
    n1 = sqlite_api.http(add_token(tokens, user="system:node:n1", groups=["system:nodes"]))
    with sqlite_api.http() as admin, n1:
        for name in ("db", "other"):
            admin.post(SECRETS, json={"metadata": {"name": name}}).raise_for_status()
        env = [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}}]
        pod = {
            "metadata": {"name": "web"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "i", "env": env}]},
        }
        admin.post(PODS, json=pod).raise_for_status()
        assert n1.get(f"{SECRETS}/db").status_code == 200
        pinned = n1.get(SECRETS, params={"fieldSelector": "metadata.name=db"})
        assert pinned.status_code == 200 and len(pinned.json()["items"]) == 1
        other = n1.get(f"{SECRETS}/other")
        assert other.status_code == 403
        assert other.json()["message"] == (
            'secrets "other" is forbidden: User "system:node:n1" cannot get resource "secrets" '
            'in API group "" in the namespace "default": no relationship found between node '
            "'n1' and this object"
        )
        assert n1.get(SECRETS).status_code == 403
        assert n1.delete("/api/v1/namespaces/default").status_code == 403
        assert n1.get("/api/v1/nodes/n2").status_code == 403


def test_a_node_gets_tokens_only_for_pods_bound_to_it(sqlite_api: RunningAPI) -> None:
    tokens = sqlite_api.data_dir / "tokens.json"
    n1 = sqlite_api.http(add_token(tokens, user="system:node:n1", groups=["system:nodes"]))
    accounts = "/api/v1/namespaces/default/serviceaccounts"
    with sqlite_api.http() as admin, n1:
        admin.post(accounts, json={"metadata": {"name": "robot"}})  # may exist: made by default
        uids = {}
        for name, node in (("mine", "n1"), ("theirs", "n2")):
            pod = {
                "metadata": {"name": name},
                "spec": {
                    "nodeName": node,
                    "serviceAccountName": "robot",
                    "containers": [{"name": "a", "image": "i"}],
                },
            }
            created = admin.post(PODS, json=pod)
            assert created.status_code == 201, created.text
            uids[name] = created.json()["metadata"]["uid"]

        def ask(ref: dict | None) -> tuple[int, str]:
            spec = {"boundObjectRef": ref} if ref else {}
            answer = n1.post(f"{accounts}/robot/token", json={"spec": spec})
            return answer.status_code, answer.json().get("message", "")

        def pod_ref(name: str, uid: str) -> dict:
            return {"kind": "Pod", "apiVersion": "v1", "name": name, "uid": uid}

        assert ask(pod_ref("mine", uids["mine"]))[0] == 201
        prefix = 'serviceaccounts "robot" is forbidden: '
        assert ask(pod_ref("theirs", uids["theirs"])) == (
            403,
            prefix + "node requested token bound to a pod scheduled on a different node",
        )
        assert ask(None) == (403, prefix + "node requested token not bound to a pod")
        assert ask(pod_ref("mine", "")) == (
            403,
            prefix + "node requested token with a pod binding without a uid",
        )
        assert ask(pod_ref("mine", "stale"))[0] == 403
        # the admin is not a node: an unbound token is its to ask for
        assert admin.post(f"{accounts}/robot/token", json={"spec": {}}).status_code == 201
