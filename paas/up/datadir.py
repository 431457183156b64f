"""The data dir's credentials: made once, kept for every later ``paas up`` on it.

The CA (``ca.crt``/``ca.key``), the API server's serving certificate (which
also names ``default/kubernetes`` in root mode), its client certificate for
the node agents' HTTPS, and tokens stored hashed in ``tokens.json``: the
admin's (``admin.token``, which ``kubeconfig`` carries), the node's
(``node.token``, user ``system:node:<node name>`` in ``system:nodes``, so the
Node authorizer and NodeRestriction hold it to its own Node and pods; a
token left by an older version or for another node name is replaced) and
one per platform component (``identities/``).

Every component authenticates as itself, with Kubernetes' user name where
Kubernetes has one (``system:kube-scheduler``...) and ``system:paas:<name>``
for ours; what each may do is the ClusterRoles of ``paas/up/roles.py``.
Each gets its own kubeconfig, ``identities/<component>.kubeconfig``, which
``paas up`` writes once the API server's URL is known and passes with
``--kubeconfig``: no credential is ever on a command line, where
``/proc/PID/cmdline`` shows it to every local user.

Privacy: the data dir (and ``identities/``) is 0700, and every key, token
and kubeconfig is created 0600 from its first byte (``pki.write_private``);
the SQLite store does the same for its files (``orchestrator/store/sqlite.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from orchestrator import pki
from orchestrator.apiserver.auth import LEGACY_ROLE_GROUPS, add_token, hash_token
from orchestrator.apiserver.identity import NODE_PREFIX, NODES
from orchestrator.client.config import write_kubeconfig
from paas.cli.components import kubelet_client_cert, serving_cert
from paas.up.settings import UpSettings

# component -> the user its token authenticates as (no groups: rights come from bindings to
# the user, as Kubernetes binds system:kube-scheduler). The node is apart: ensure_node_token.
COMPONENT_USERS = {
    "controller-manager": "system:kube-controller-manager",
    "scheduler": "system:kube-scheduler",
    "dns": "system:paas:dns",
    "router": "system:paas:router",
    "builder": "system:paas:builder",
    "app-controller": "system:paas:app-controller",
    "serving-controller": "system:paas:serving-controller",
    "autoscaler": "system:paas:autoscaler",
}
NODE = "node"  # the node agent's identity: its kubelet and its service proxy (kube-proxy) share it


@dataclass(frozen=True)
class Credentials:
    serving: pki.CertPaths
    kubelet_client: pki.CertPaths
    tokens_file: Path
    admin_token: str
    node_token: str
    identities: Path  # the directory of the components' tokens and kubeconfigs
    component_tokens: dict[str, str]  # component -> its token (the node's under NODE)

    def kubeconfig(self, component: str) -> Path:
        """The kubeconfig ``component`` runs with (written by ``write_component_kubeconfigs``)."""
        return self.identities / f"{component}.kubeconfig"


def _kept_token(token_path: Path, tokens_file: Path, user: str, groups: tuple[str, ...]) -> str:
    """The token in ``token_path``, made (and recorded hashed in ``tokens_file``) on first use."""
    if token_path.exists():
        return token_path.read_text().strip()
    token = add_token(tokens_file, user=user, groups=groups)
    pki.write_private(token_path, token + "\n")
    return token


def ensure_token(data_dir: Path, role: str) -> str:
    """The ``<role>.token`` of the data dir, made (and recorded hashed) on first use."""
    return _kept_token(
        data_dir / f"{role}.token", data_dir / "tokens.json", role, LEGACY_ROLE_GROUPS[role]
    )


def ensure_component_token(data_dir: Path, component: str) -> str:
    """``identities/<component>.token``, authenticating as ``COMPONENT_USERS[component]``."""
    identities = pki.ensure_private_dir(data_dir / "identities")
    return _kept_token(
        identities / f"{component}.token",
        data_dir / "tokens.json",
        COMPONENT_USERS[component],
        (),
    )


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
    pki.write_private(token_path, token + "\n")
    return token


def ensure_credentials(settings: UpSettings) -> Credentials:
    data_dir = pki.ensure_private_dir(settings.data_dir)
    published = settings.service_cidr if settings.advertise_address else ""
    serving = serving_cert(data_dir, settings.host, published)
    kubelet_client = kubelet_client_cert(data_dir)  # the API server's, for node agents' HTTPS
    assert kubelet_client is not None  # serving_cert made the CA
    admin_token = ensure_token(data_dir, "admin")
    # Simulated nodes share one process and one token: an admin's (benchmarks only); a real
    # node is system:node:<name>, held to its own Node and pods by the Node authorizer.
    if settings.runtime == "simulated":
        node_token = admin_token
    else:
        node_token = ensure_node_token(data_dir, settings.node)
    tokens = {name: ensure_component_token(data_dir, name) for name in COMPONENT_USERS}
    return Credentials(
        serving=serving,
        kubelet_client=kubelet_client,
        tokens_file=data_dir / "tokens.json",
        admin_token=admin_token,
        node_token=node_token,
        identities=data_dir / "identities",
        component_tokens={**tokens, NODE: node_token},
    )


def write_component_kubeconfigs(credentials: Credentials, server: str, ca_pem: bytes) -> None:
    """One kubeconfig per component (0600), naming the API at ``server`` and its own token."""
    for component, token in credentials.component_tokens.items():
        user = COMPONENT_USERS.get(component, component)
        write_kubeconfig(
            credentials.kubeconfig(component), server=server, token=token, ca_pem=ca_pem, user=user
        )
