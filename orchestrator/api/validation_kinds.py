"""Per-kind rules beyond metadata and JSON types, one function per kind.

Each ``validate_<kind>(obj) -> list[Cause]`` reports every broken rule it can
find in one pass; ``KIND_RULES`` maps kind names to them. The rules are the
ones a kubectl user runs into (Kubernetes' ``pkg/apis/*/validation``), kept
to what our controllers rely on; anything finer is left to later. Workload
kinds (Deployment, ReplicaSet, Job, CronJob) live in ``validation_workloads``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from orchestrator.api.schema_types import is_integer
from orchestrator.api.validation_causes import (
    Cause,
    duplicate,
    forbidden,
    invalid,
    invalid_all,
    required,
    too_long,
)
from orchestrator.api.validation_names import (
    check_config_key,
    check_dns1123_label,
    check_port_number,
    check_qualified_name,
)
from orchestrator.api.validation_networking import validate_ingress, validate_ingress_class
from orchestrator.api.validation_pods import (
    PROTOCOLS,
    TAINT_EFFECTS,
    as_dict,
    as_list,
    check_enum,
    check_min,
    validate_label_selector,
    validate_labels,
    validate_pod_spec,
    validate_port_ref,
)
from orchestrator.api.validation_rbac import (
    validate_cluster_role,
    validate_cluster_role_binding,
    validate_role,
    validate_role_binding,
)
from orchestrator.api.validation_workloads import (
    validate_cronjob,
    validate_deployment,
    validate_job,
    validate_replicaset,
)

DATA_SIZE_LIMIT = 1024 * 1024  # ConfigMap and Secret payloads (Kubernetes' 1 MiB)
SA_NAME = "kubernetes.io/service-account.name"  # the account a token Secret is for
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def validate_pod(obj: dict[str, Any]) -> list[Cause]:
    if obj.get("spec") is None:
        return [required("spec.containers")]
    return validate_pod_spec("spec", as_dict(obj.get("spec")))


def validate_service(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    service_type = spec.get("type")
    cluster_ip = spec.get("clusterIP")
    ports = as_list(spec.get("ports"))
    causes = check_enum("spec.type", service_type, SERVICE_TYPES)
    if service_type == "ExternalName":
        if not spec.get("externalName"):
            causes.append(required("spec.externalName"))
    elif not ports and cluster_ip != "None":
        causes.append(required("spec.ports"))
    if isinstance(cluster_ip, str) and cluster_ip not in ("", "None"):
        causes += _validate_ip("spec.clusterIP", cluster_ip)
    names: set[str] = set()
    for i, port in enumerate(ports):
        causes += _validate_service_port(f"spec.ports[{i}]", as_dict(port), len(ports), names)
        if is_integer(as_dict(port).get("nodePort")) and port["nodePort"] != 0:
            causes += _validate_node_port(f"spec.ports[{i}].nodePort", port["nodePort"], spec)
    causes += validate_labels("spec.selector", spec.get("selector"))
    causes += check_enum("spec.sessionAffinity", spec.get("sessionAffinity"), SESSION_AFFINITIES)
    for key in ("externalTrafficPolicy", "internalTrafficPolicy"):
        causes += check_enum(f"spec.{key}", spec.get(key), TRAFFIC_POLICIES)
    return causes


def _validate_service_port(
    field: str, port: dict[str, Any], count: int, names: set[str]
) -> list[Cause]:
    causes: list[Cause] = []
    name = port.get("name")
    if count > 1 and not name:
        causes.append(required(f"{field}.name"))
    elif isinstance(name, str) and name:
        causes += invalid_all(f"{field}.name", name, check_dns1123_label(name))
        if name in names:
            causes.append(duplicate(f"{field}.name", name))
        names.add(name)
    number = port.get("port")
    if number is None:
        causes.append(required(f"{field}.port"))
    elif is_integer(number):
        causes += invalid_all(f"{field}.port", number, check_port_number(number))
    causes += check_enum(f"{field}.protocol", port.get("protocol"), PROTOCOLS)
    if port.get("targetPort") not in (None, 0, ""):
        causes += validate_port_ref(f"{field}.targetPort", port["targetPort"])
    return causes


def _validate_node_port(field: str, node_port: int, spec: dict[str, Any]) -> list[Cause]:
    service_type = spec.get("type") or "ClusterIP"
    if service_type in ("ClusterIP", "ExternalName"):
        return [forbidden(field, f"may not be used when `type` is '{service_type}'")]
    return invalid_all(field, node_port, check_port_number(node_port))


def _validate_ip(field: str, value: str) -> list[Cause]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [invalid(field, value, IP_MESSAGE)]
    return []


def validate_endpoints(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for i, subset in enumerate(as_list(obj.get("subsets"))):
        subset = as_dict(subset)
        for group in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(as_list(subset.get(group))):
                path = f"subsets[{i}].{group}[{j}].ip"
                ip = as_dict(address).get("ip")
                if not ip:
                    causes.append(required(path))
                elif isinstance(ip, str):
                    causes += _validate_ip(path, ip)
        for j, port in enumerate(as_list(subset.get("ports"))):
            path = f"subsets[{i}].ports[{j}]"
            number = as_dict(port).get("port")
            if number is None:
                causes.append(required(f"{path}.port"))
            elif is_integer(number):
                causes += invalid_all(f"{path}.port", number, check_port_number(number))
            causes += check_enum(f"{path}.protocol", as_dict(port).get("protocol"), PROTOCOLS)
    return causes


def _validate_data(field: str, data: Any, *, base64_values: bool) -> tuple[list[Cause], int]:
    """Keys are config keys; with ``base64_values`` values must decode. Also the byte size."""
    causes: list[Cause] = []
    size = 0
    for key, value in as_dict(data).items():
        causes += invalid_all(f"{field}[{key}]", key, check_config_key(key))
        if not isinstance(value, str):
            continue
        if not base64_values:
            size += len(value.encode())
            continue
        try:
            size += len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            detail = "must be a base64-encoded string"
            causes.append(invalid(f"{field}[{key}]", "<secret contents redacted>", detail))
    return causes, size


def validate_configmap(obj: dict[str, Any]) -> list[Cause]:
    causes, size = _validate_data("data", obj.get("data"), base64_values=False)
    more, binary_size = _validate_data("binaryData", obj.get("binaryData"), base64_values=True)
    causes += more
    for key in as_dict(obj.get("binaryData")):
        if key in as_dict(obj.get("data")):
            causes.append(invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
    if size + binary_size > DATA_SIZE_LIMIT:
        causes.append(too_long("", DATA_SIZE_LIMIT))
    return causes


def validate_secret(obj: dict[str, Any]) -> list[Cause]:
    causes, size = _validate_data("data", obj.get("data"), base64_values=True)
    more, string_size = _validate_data("stringData", obj.get("stringData"), base64_values=False)
    causes += more
    if size + string_size > DATA_SIZE_LIMIT:
        causes.append(too_long("data", DATA_SIZE_LIMIT))
    return causes + _secret_type_keys(obj)


def _secret_type_keys(obj: dict[str, Any]) -> list[Cause]:
    """What each built-in Secret type must hold (Kubernetes' ValidateSecret)."""
    kind, data = obj.get("type"), as_dict(obj.get("data"))
    if kind == "kubernetes.io/service-account-token":  # the controller fills the rest
        name = as_dict(as_dict(obj.get("metadata")).get("annotations")).get(SA_NAME)
        return [] if name else [required(f"metadata.annotations[{SA_NAME}]")]
    if kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            return [required(f"data[{key}]")]
        try:
            json.loads(base64.b64decode(str(data[key]), validate=True))
        except (ValueError, binascii.Error) as exc:
            return [invalid(f"data[{key}]", "<secret contents redacted>", str(exc))]
        return []
    if kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        return [required("data[username]"), required("data[password]")]
    if kind == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        return [required("data[ssh-privatekey]")]
    if kind == "kubernetes.io/tls":
        return [required(f"data[{key}]") for key in ("tls.crt", "tls.key") if key not in data]
    return []


def validate_namespace(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    finalizers = as_list(as_dict(obj.get("spec")).get("finalizers"))
    for i, finalizer in enumerate(finalizers):
        if isinstance(finalizer, str):
            field = f"spec.finalizers[{i}]"
            causes += invalid_all(field, finalizer, check_qualified_name(finalizer))
    return causes


def validate_node(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for i, taint in enumerate(as_list(as_dict(obj.get("spec")).get("taints"))):
        path = f"spec.taints[{i}]"
        taint = as_dict(taint)
        key = taint.get("key")
        if not key:
            causes.append(required(f"{path}.key"))
        elif isinstance(key, str):
            causes += invalid_all(f"{path}.key", key, check_qualified_name(key))
        if not taint.get("effect"):
            causes.append(required(f"{path}.effect"))
        causes += check_enum(f"{path}.effect", taint.get("effect") or None, TAINT_EFFECTS)
    return causes


def validate_event(obj: dict[str, Any]) -> list[Cause]:
    causes = [] if obj.get("involvedObject") is not None else [required("involvedObject")]
    return causes + check_min("count", obj.get("count"), 0)


def validate_pvc(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    modes = as_list(spec.get("accessModes"))
    if not modes:
        causes.append(required("spec.accessModes", "at least 1 access mode is required"))
    for i, mode in enumerate(modes):
        causes += check_enum(f"spec.accessModes[{i}]", mode, ACCESS_MODES)
    if as_dict(as_dict(spec.get("resources")).get("requests")).get("storage") is None:
        causes.append(required("spec.resources[storage]"))
    causes += check_enum("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)
    if isinstance(spec.get("selector"), dict):
        causes += validate_label_selector("spec.selector", spec["selector"])
    return causes


def validate_lease(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    causes = check_min("spec.leaseTransitions", spec.get("leaseTransitions"), 0)
    if is_integer(duration) and duration < 1:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    return causes


KIND_RULES: Mapping[str, Callable[[dict[str, Any]], list[Cause]]] = MappingProxyType(
    {
        "Pod": validate_pod,
        "Deployment": validate_deployment,
        "ReplicaSet": validate_replicaset,
        "Job": validate_job,
        "CronJob": validate_cronjob,
        "Service": validate_service,
        "Endpoints": validate_endpoints,
        "ConfigMap": validate_configmap,
        "Secret": validate_secret,
        "Namespace": validate_namespace,
        "Node": validate_node,
        "Event": validate_event,
        "PersistentVolumeClaim": validate_pvc,
        "Lease": validate_lease,
        "Ingress": validate_ingress,
        "IngressClass": validate_ingress_class,
        "Role": validate_role,
        "ClusterRole": validate_cluster_role,
        "RoleBinding": validate_role_binding,
        "ClusterRoleBinding": validate_cluster_role_binding,
    }
)
