"""``kubectl auth can-i`` and ``kubectl auth whoami`` as users with roles, with real kubectl.

Each client version the machine has asks the same questions: can-i answers
``yes``/``no`` with exit codes 0/1 from SelfSubjectAccessReview, ``--list``
prints the rules of SelfSubjectRulesReview, whoami prints the user and its
groups from SelfSubjectReview (1.27 asks v1beta1/v1alpha1, later ones v1).
A refused command shows Kubernetes' 403 text.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.kubectlbin import KUBECTL_VERSIONS, versioned_kubectl
from support.wait import wait_until

from orchestrator.apiserver.auth import add_token
from orchestrator.client.config import write_kubeconfig

GROUP = "rbac.authorization.k8s.io"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningAPI, Path]]:
    """A server where alice (in group team-a) edits namespace dev; her kubeconfig."""
    tmp = tmp_path_factory.mktemp("auth")
    api = start_api(tmp / "api")
    try:
        token = add_token(api.data_dir / "tokens.json", user="alice", groups=["team-a"])
        kubeconfig = tmp / "alice.kubeconfig"
        write_kubeconfig(kubeconfig, server=api.url, token=token, ca_pem=api.ca.read_bytes())
        with api.http() as admin:
            admin.post("/api/v1/namespaces", json={"metadata": {"name": "dev"}})
            r = admin.post(
                f"/apis/{GROUP}/v1/namespaces/dev/rolebindings",
                json={
                    "metadata": {"name": "team-a-edit"},
                    "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "edit"},
                    "subjects": [{"kind": "Group", "apiGroup": GROUP, "name": "team-a"}],
                },
            )
            assert r.status_code == 201, r.text
            review = {
                "kind": "SubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "spec": {
                    "user": "alice",
                    "groups": ["team-a"],
                    "resourceAttributes": {
                        "verb": "create",
                        "group": "apps",
                        "resource": "deployments",
                        "namespace": "dev",
                    },
                },
            }
            wait_until(
                lambda: admin.post(
                    "/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review
                ).json()["status"]["allowed"]
            )
        yield api, kubeconfig
    finally:
        api.stop()


@pytest.fixture(params=KUBECTL_VERSIONS[:1] + KUBECTL_VERSIONS[-1:])
def as_alice(
    request: pytest.FixtureRequest, cluster: tuple[RunningAPI, Path], tmp_path: Path
) -> Run:
    _, kubeconfig = cluster
    binary = versioned_kubectl(request.param)
    home = tmp_path / "home"
    home.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "c"), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        )

    return run


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (("create", "deployments", "-n", "dev"), "yes"),
        (("get", "secrets", "-n", "dev"), "yes"),
        (("get", "secrets", "-n", "prod"), "no"),
        (("list", "nodes"), "no"),
        (("create", "roles", "-n", "dev"), "no"),
        (("get", "pods", "--subresource=log", "-n", "dev"), "yes"),
        (("create", "pods/exec", "-n", "dev"), "yes"),
        (("get", "/api"), "yes"),
        (("get", "/metrics"), "no"),
    ],
)
def test_can_i_answers_yes_or_no_with_the_exit_code(
    as_alice: Run, args: tuple[str, ...], answer: str
) -> None:
    result = as_alice("auth", "can-i", *args)
    assert result.stdout.strip().splitlines()[0].startswith(answer), result
    assert result.returncode == (0 if answer == "yes" else 1), result


def test_can_i_list_shows_the_rules_held_in_the_namespace(as_alice: Run) -> None:
    result = as_alice("auth", "can-i", "--list", "-n", "dev")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    deployments = next(line for line in lines if line.startswith("deployments.apps "))
    assert "create" in deployments
    assert any(line.startswith("selfsubjectaccessreviews.authorization.k8s.io") for line in lines)
    assert any(line.strip().startswith("[/api/*]") for line in lines)


def test_whoami_prints_the_user_and_its_groups(as_alice: Run) -> None:
    result = as_alice("auth", "whoami")
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()]
    assert rows[0] == ["ATTRIBUTE", "VALUE"]
    assert ["Username", "alice"] in rows
    assert ["Groups", "[team-a system:authenticated]"] in rows


def test_a_refused_command_shows_the_forbidden_message(as_alice: Run) -> None:
    result = as_alice("get", "secrets", "-n", "prod")
    assert result.returncode == 1
    assert (
        'Error from server (Forbidden): secrets is forbidden: User "alice" cannot list '
        'resource "secrets" in API group "" in the namespace "prod"'
    ) in result.stderr


@pytest.mark.parametrize("version", KUBECTL_VERSIONS[:1] + KUBECTL_VERSIONS[-1:])
def test_kubectl_creates_and_lists_roles_and_bindings(
    cluster: tuple[RunningAPI, Path], tmp_path: Path, version: str
) -> None:
    api, _ = cluster
    home = tmp_path / "home"
    home.mkdir()
    ns = f"roles-{version.replace('.', '-')}"

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [versioned_kubectl(version), "--kubeconfig", str(api.kubeconfig), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    kubectl("create", "namespace", ns)
    kubectl("create", "role", "reader", "-n", ns, "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "read", "-n", ns, "--role=reader", "--user=bob", "--group=ops")
    kubectl("create", "clusterrole", f"node-reader-{ns}", "--verb=get", "--resource=nodes")
    kubectl(
        "create",
        "clusterrolebinding",
        f"node-read-{ns}",
        f"--clusterrole=node-reader-{ns}",
        f"--serviceaccount={ns}:robot",
    )
    wide = kubectl("get", "rolebindings", "-n", ns, "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert wide[1].split()[:2] == ["read", "Role/reader"]
    assert wide[1].split()[-2:] == ["bob", "ops"]
    crb = kubectl("get", "clusterrolebinding", f"node-read-{ns}", "-o", "wide").splitlines()[1]
    assert crb.split()[1] == f"ClusterRole/node-reader-{ns}"
    assert crb.split()[-1] == f"{ns}/robot"
    assert "reader" in kubectl("get", "roles", "-n", ns)


def test_as_another_user_is_refused_without_the_impersonate_right(as_alice: Run) -> None:
    # --raw: kubectl's discovery, refused the same way, prints only "Forbidden: unknown" (on
    # Kubernetes too); a plain request shows the message
    result = as_alice("--as", "bob", "get", "--raw", "/api/v1/namespaces/dev/pods")
    assert result.returncode == 1
    assert (
        'Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    ) in result.stderr


def test_edit_may_act_as_a_service_account_of_its_namespace_and_gets_its_rights(
    as_alice: Run,
) -> None:
    robot = "system:serviceaccount:dev:robot"
    whoami = as_alice("--as", robot, "auth", "whoami")
    assert whoami.returncode == 0, whoami.stderr
    rows = [line.split(None, 1) for line in whoami.stdout.splitlines()]
    assert ["Username", robot] in rows
    assert [
        "Groups",
        "[system:serviceaccounts system:serviceaccounts:dev system:authenticated]",
    ] in (rows)
    # the account holds no binding: acting as it, alice cannot do what she herself may
    assert as_alice("auth", "can-i", "create", "deployments", "-n", "dev").returncode == 0
    refused = as_alice("--as", robot, "get", "pods", "-n", "dev")
    assert refused.returncode == 1
    assert f'User "{robot}" cannot list resource "pods"' in refused.stderr
    elsewhere = as_alice(
        "--as", "system:serviceaccount:prod:robot", "get", "--raw", "/api/v1/namespaces/prod/pods"
    )
    assert 'serviceaccounts "robot" is forbidden: User "alice" cannot impersonate' in (
        elsewhere.stderr
    )


AS_CAROL = ("--as", "carol", "--as-group", "ops")


def test_the_admin_acts_as_anybody_with_the_groups_asked(
    cluster: tuple[RunningAPI, Path], tmp_path: Path
) -> None:
    api, _ = cluster
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(api.kubeconfig), *AS_CAROL, "auth", "whoami"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env={"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()]
    assert ["Username", "carol"] in rows and ["Groups", "[ops system:authenticated]"] in rows
