"""Client connection settings, and the kubeconfig files that carry them.

A kubeconfig written by ``paas up`` works unchanged with kubectl, the
``kubernetes`` Python package and ``paas``: one cluster (server URL and the
CA inline as base64), one user with a bearer token, one context. It holds
a credential, so it is written 0600 from its first byte (``pki.write_private``).
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.pki import write_private


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str = ""
    ca_data: bytes | None = None  # PEM
    insecure: bool = False
    namespace: str = "default"


class KubeconfigError(Exception):
    """A kubeconfig that cannot be used, with the reason."""


def write_kubeconfig(
    path: Path, *, server: str, token: str, ca_pem: bytes, name: str = "paas", user: str = ""
) -> None:
    """A kubeconfig for ``user`` (default ``<name>-admin``), 0600 from its first byte."""
    user = user or f"{name}-admin"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": user, "namespace": "default"},
            }
        ],
        "current-context": name,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(doc, sort_keys=False))


def load_kubeconfig(path: Path, context: str = "") -> ClientConfig:
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise KubeconfigError(
            f"kubeconfig {path} does not exist; start the platform with "
            "`paas up` or pass --kubeconfig"
        ) from None
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is empty")
    ctx_name = context or doc.get("current-context", "")
    contexts = {c["name"]: c.get("context", {}) for c in doc.get("contexts") or []}
    if ctx_name not in contexts:
        raise KubeconfigError(f"kubeconfig {path} has no context {ctx_name!r}")
    ctx = contexts[ctx_name]
    clusters = {c["name"]: c.get("cluster", {}) for c in doc.get("clusters") or []}
    users = {u["name"]: u.get("user", {}) for u in doc.get("users") or []}
    cluster = clusters.get(ctx.get("cluster", ""))
    if cluster is None or not cluster.get("server"):
        raise KubeconfigError(f"kubeconfig {path}: context {ctx_name!r} names no usable cluster")
    user = users.get(ctx.get("user", ""), {})
    ca: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca = (path.parent / cluster["certificate-authority"]).read_bytes()
    token = user.get("token", "")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    return ClientConfig(
        server=cluster["server"].rstrip("/"),
        token=token,
        ca_data=ca,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        namespace=ctx.get("namespace") or "default",
    )


def ssl_context(config: ClientConfig) -> ssl.SSLContext | bool:
    """What the client verifies the server with: the cluster CA, or nothing when insecure."""
    if config.insecure:
        return False
    if config.ca_data is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cadata=config.ca_data.decode())
