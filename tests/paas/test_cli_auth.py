"""``paas auth can-i`` and ``paas auth whoami`` as a user with a role, against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.apiserver import RunningAPI
from support.wait import wait_until

from orchestrator.apiserver.auth import add_token
from orchestrator.client.config import write_kubeconfig

GROUP = "rbac.authorization.k8s.io"


def test_can_i_and_whoami_answer_for_the_kubeconfig_user(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="alice", groups=["team-a"])
    kubeconfig = tmp_path / "alice"
    write_kubeconfig(
        kubeconfig, server=sqlite_api.url, token=token, ca_pem=sqlite_api.ca.read_bytes()
    )
    with sqlite_api.http() as admin:
        r = admin.post(
            f"/apis/{GROUP}/v1/namespaces/default/rolebindings",
            json={
                "metadata": {"name": "team-a-view"},
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "apiGroup": GROUP, "name": "team-a"}],
            },
        )
        assert r.status_code == 201, r.text

    def paas(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paas", *args, "--kubeconfig", str(kubeconfig)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    allowed = wait_until(
        lambda: (r := paas("auth", "can-i", "list", "deploy")).returncode == 0 and r
    )
    assert allowed.stdout.strip() == "yes"
    refused = paas("auth", "can-i", "get", "secrets", "-n", "default")
    assert (refused.returncode, refused.stdout.strip()) == (1, "no")
    assert paas("auth", "can-i", "get", "pods/web", "--subresource=log").returncode == 0
    assert paas("auth", "can-i", "get", "/metrics").returncode == 1
    who = paas("auth", "whoami")
    assert who.returncode == 0, who.stderr
    assert who.stdout.split("\n")[1].split() == ["Username", "alice"]
    assert "[team-a system:authenticated]" in who.stdout
