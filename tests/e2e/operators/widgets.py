"""A small operator written with kopf, as an operator author would write it for Kubernetes.

For each Widget it creates a ConfigMap it owns (kopf.adopt sets the owner
reference), reports progress in the Widget's status, and on deletion removes
the ConfigMap before kopf releases its finalizer. Nothing here knows it is not
talking to Kubernetes.
"""

import kopf
import kubernetes

kubernetes.config.load_kube_config()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.posting.enabled = True
    settings.watching.server_timeout = 30


@kopf.on.create("example.com", "v1", "widgets")
def create_data(spec, name, namespace, patch, **_):
    data = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-data"},
        "data": {"size": str(spec.get("size", 1))},
    }
    kopf.adopt(data)
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, data)
    patch.status["phase"] = "Ready"
    return {"configMap": f"{name}-data"}


@kopf.on.update("example.com", "v1", "widgets", field="spec.size")
def resize(new, name, namespace, patch, **_):
    kubernetes.client.CoreV1Api().patch_namespaced_config_map(
        f"{name}-data", namespace, {"data": {"size": str(new)}}
    )
    patch.status["size"] = new


@kopf.on.delete("example.com", "v1", "widgets")
def delete_data(name, namespace, **_):
    try:
        kubernetes.client.CoreV1Api().delete_namespaced_config_map(f"{name}-data", namespace)
    except kubernetes.client.exceptions.ApiException as exc:
        if exc.status != 404:
            raise
