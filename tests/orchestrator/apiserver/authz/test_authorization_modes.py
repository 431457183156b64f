"""``paas apiserver --authorization-mode``: which authorizers answer, in the order given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.apiserver import start_api

from orchestrator.apiserver.auth import add_token

SECRETS = "/api/v1/namespaces/default/secrets"


def test_always_allow_lets_any_caller_do_anything_and_rbac_alone_leaves_nodes_out(
    tmp_path: Path,
) -> None:
    open_api = start_api(tmp_path / "open", authorization_modes=("AlwaysAllow",))
    try:
        token = add_token(open_api.data_dir / "tokens.json", user="anyone")
        with open_api.http(token) as anyone:
            assert anyone.get(SECRETS).status_code == 200
    finally:
        open_api.stop()
    rbac_only = start_api(tmp_path / "rbac", authorization_modes=("RBAC",))
    try:
        tokens = rbac_only.data_dir / "tokens.json"
        node = add_token(tokens, user="system:node:n1", groups=["system:nodes"])
        with rbac_only.http() as admin, rbac_only.http(node) as n1:
            admin.post(SECRETS, json={"metadata": {"name": "db"}}).raise_for_status()
            pod = {
                "metadata": {"name": "web"},
                "spec": {
                    "nodeName": "n1",
                    "containers": [{"name": "a", "image": "i"}],
                    "volumes": [{"name": "s", "secret": {"secretName": "db"}}],
                },
            }
            admin.post("/api/v1/namespaces/default/pods", json=pod).raise_for_status()
            # without the Node authorizer, nothing grants a node its pod's Secret
            refused = n1.get(f"{SECRETS}/db")
        assert refused.status_code == 403, refused.text
    finally:
        rbac_only.stop()


def test_an_unknown_mode_is_refused_by_name_before_anything_starts(tmp_path: Path) -> None:
    paas = [sys.executable, "-m", "paas.cli.main"]
    done = subprocess.run(
        [*paas, "apiserver", "--data-dir", str(tmp_path), "--authorization-mode", "Node,ABAC"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "paas apiserver: --authorization-mode: unknown authorization mode 'ABAC' "
        "(one of Node, RBAC, AlwaysAllow)"
    ) in done.stderr
    assert not (tmp_path / "tokens.json").exists()
