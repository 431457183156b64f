"""The data dir's credentials: made once, kept for every later ``paas up`` on it.

The CA (``ca.crt``/``ca.key``), the API server's serving certificate (which
also names ``default/kubernetes`` in root mode), its client certificate for
the node agents' HTTPS, and two tokens stored hashed in ``tokens.json``: the
admin's (``admin.token``, which the kubeconfig carries) and the node's
(``node.token``, user ``system:node:<node name>`` in ``system:nodes``, so the
Node authorizer and NodeRestriction hold it to its own Node and pods; a
token left by an older version or for another node name is replaced).
Token files are written 0600 and never go on a command line except the
node's ``--token=`` (the node flag's documented form).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from orchestrator import pki
from orchestrator.apiserver.auth import LEGACY_ROLE_GROUPS, add_token, hash_token, write_private
from orchestrator.apiserver.identity import NODE_PREFIX, NODES
from paas.cli.components import kubelet_client_cert, serving_cert
from paas.up.settings import UpSettings


@dataclass(frozen=True)
class Credentials:
    serving: pki.CertPaths
    kubelet_client: pki.CertPaths
    tokens_file: Path
    admin_token: str
    node_token: str


def ensure_token(data_dir: Path, role: str) -> str:
    """The ``<role>.token`` of the data dir, made (and recorded hashed) on first use."""
    token_path = data_dir / f"{role}.token"
    if token_path.exists():
        return token_path.read_text().strip()
    token = add_token(data_dir / "tokens.json", user=role, groups=LEGACY_ROLE_GROUPS[role])
    write_private(token_path, token + "\n")
    return token


def ensure_node_token(data_dir: Path, node: str) -> str:
    """``node.token``: the node's own identity, made again when it names another user."""
    token_path, tokens_file = data_dir / "node.token", data_dir / "tokens.json"
    user = f"{NODE_PREFIX}{node}"
    if token_path.exists() and tokens_file.exists():
        token = token_path.read_text().strip()
        rows = json.loads(tokens_file.read_text()).get("tokens", [])
        if any(r.get("sha256") == hash_token(token) and r.get("user") == user for r in rows):
            return token
    token = add_token(tokens_file, user=user, groups=[NODES])
    write_private(token_path, token + "\n")
    return token


def ensure_credentials(settings: UpSettings) -> Credentials:
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    published = settings.service_cidr if settings.advertise_address else ""
    serving = serving_cert(data_dir, settings.host, published)
    kubelet_client = kubelet_client_cert(data_dir)  # the API server's, for node agents' HTTPS
    assert kubelet_client is not None  # serving_cert made the CA
    return Credentials(
        serving=serving,
        kubelet_client=kubelet_client,
        tokens_file=data_dir / "tokens.json",
        admin_token=ensure_token(data_dir, "admin"),
        node_token=ensure_node_token(data_dir, settings.node),
    )
