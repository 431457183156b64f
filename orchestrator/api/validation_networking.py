"""Rules of the ``networking.k8s.io`` kinds: Ingress and IngressClass.

The rules are Kubernetes' ``pkg/apis/networking/validation`` as a user meets
them: an Ingress needs rules or a default backend; a rule's host is a DNS
name or ``*.`` plus one, never an IP; every path has a ``pathType`` and an
absolute path, and ``Exact``/``Prefix`` paths carry no ``//``, dot segments
or encoded slashes (so that matching and forwarding see the same string); a
backend names a Service (a DNS-1035 name and a port by name or number) or a
resource, not both. An IngressClass needs a domain-prefixed ``controller``,
which may not change (``validation_update``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from orchestrator.api.validation_causes import (
    Cause,
    forbidden,
    invalid,
    invalid_all,
    not_supported,
    required,
    too_long,
)
from orchestrator.api.validation_names import (
    check_dns1035_label,
    check_dns1123_subdomain,
    check_port_name,
    check_port_number,
)
from orchestrator.api.validation_pods import as_dict, as_list

PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
PARAMETER_SCOPES = ("Cluster", "Namespace")
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
CONTROLLER_MAX = 250
# What an Exact or Prefix path may not contain, and may not end with (Kubernetes' list).
BAD_PATH_PARTS = ("//", "/./", "/../", "%2f", "%2F")
BAD_PATH_ENDS = ("/..", "/.")
_DOMAIN_PREFIXED = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/\S+$"
)


def validate_ingress(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    rules = as_list(spec.get("rules"))
    class_name = spec.get("ingressClassName")
    if isinstance(class_name, str):
        causes += invalid_all(
            "spec.ingressClassName", class_name, check_dns1123_subdomain(class_name)
        )
        legacy = as_dict(as_dict(obj.get("metadata")).get("annotations")).get(
            LEGACY_CLASS_ANNOTATION
        )
        if legacy is not None and legacy != class_name:
            causes.append(
                invalid(
                    "spec.ingressClassName",
                    class_name,
                    f"can not be set when the class field is also set (annotation "
                    f"{LEGACY_CLASS_ANNOTATION} is {legacy!r})",
                )
            )
    if spec.get("defaultBackend") is not None:
        causes += validate_backend("spec.defaultBackend", spec["defaultBackend"])
    elif not rules:
        causes.append(
            invalid("spec.rules", rules, "either `defaultBackend` or `rules` must be specified")
        )
    for i, rule in enumerate(rules):
        causes += _validate_rule(f"spec.rules[{i}]", as_dict(rule))
    for i, tls in enumerate(as_list(spec.get("tls"))):
        for j, host in enumerate(as_list(as_dict(tls).get("hosts"))):
            if isinstance(host, str):
                causes += _check_host(f"spec.tls[{i}].hosts[{j}]", host)
    return causes


def _validate_rule(field: str, rule: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    host = rule.get("host")
    if isinstance(host, str) and host:
        causes += _check_host(f"{field}.host", host)
    http = rule.get("http")
    if http is None:
        return causes
    paths = as_list(as_dict(http).get("paths"))
    if not paths:
        causes.append(required(f"{field}.http.paths"))
    for i, path in enumerate(paths):
        causes += _validate_path(f"{field}.http.paths[{i}]", as_dict(path))
    return causes


def _check_host(field: str, host: str) -> list[Cause]:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [invalid(field, host, "must be a DNS name, not an IP address")]
    if host.startswith("*."):
        return invalid_all(field, host, check_wildcard_dns1123_subdomain(host))
    return invalid_all(field, host, check_dns1123_subdomain(host))


def check_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """``*.`` followed by a DNS subdomain (the wildcard covers exactly one label)."""
    problems = check_dns1123_subdomain(value[2:]) if value.startswith("*.") else ["x"]
    if problems:
        return [
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
            "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
            "and end with an alphanumeric character (e.g. '*.example.com', regex used for "
            "validation is "
            "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ]
    return []


def _validate_path(field: str, path: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    value, path_type = path.get("path"), path.get("pathType")
    if path_type is None:
        causes.append(required(f"{field}.pathType", "pathType must be specified"))
    elif path_type not in PATH_TYPES:
        causes.append(not_supported(f"{field}.pathType", path_type, PATH_TYPES))
    if isinstance(value, str) or path_type in ("Exact", "Prefix"):
        text = value if isinstance(value, str) else ""
        if not text.startswith("/"):
            causes.append(invalid(f"{field}.path", text, "must be an absolute path"))
        elif path_type in ("Exact", "Prefix"):
            for part in BAD_PATH_PARTS:
                if part in text:
                    causes.append(invalid(f"{field}.path", text, f"must not contain '{part}'"))
            for end in BAD_PATH_ENDS:
                if text.endswith(end):
                    causes.append(invalid(f"{field}.path", text, f"cannot end with '{end}'"))
    causes += validate_backend(f"{field}.backend", path.get("backend"))
    return causes


def validate_backend(field: str, backend: Any) -> list[Cause]:
    """Exactly one of ``service`` (name and a port by name xor number) and ``resource``."""
    backend = as_dict(backend)
    service, resource = backend.get("service"), backend.get("resource")
    if service is None and resource is None:
        return [invalid(field, "", "one backend (`service` or `resource`) must be specified")]
    if service is not None and resource is not None:
        return [invalid(field, "", "cannot set both `service` and `resource` backends")]
    if resource is not None:
        resource = as_dict(resource)
        return [required(f"{field}.resource.{k}") for k in ("kind", "name") if not resource.get(k)]
    service = as_dict(service)
    causes: list[Cause] = []
    name = service.get("name")
    if not name:
        causes.append(required(f"{field}.service.name"))
    elif isinstance(name, str):
        causes += invalid_all(f"{field}.service.name", name, check_dns1035_label(name))
    port = as_dict(service.get("port"))
    port_name, number = port.get("name"), port.get("number")
    if port_name and number:
        causes.append(
            invalid(f"{field}.service.port", port, "cannot set both port name & port number")
        )
    elif isinstance(port_name, str) and port_name:
        causes += invalid_all(f"{field}.service.port.name", port_name, check_port_name(port_name))
    elif isinstance(number, int):
        causes += invalid_all(f"{field}.service.port.number", number, check_port_number(number))
    else:
        causes.append(required(f"{field}.service.port", "port name or number is required"))
    return causes


def validate_ingress_class(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    controller = spec.get("controller")
    if not controller:
        causes.append(required("spec.controller"))
    elif isinstance(controller, str):
        if len(controller) > CONTROLLER_MAX:
            causes.append(too_long("spec.controller", CONTROLLER_MAX))
        if not _DOMAIN_PREFIXED.match(controller):
            causes.append(
                invalid(
                    "spec.controller",
                    controller,
                    "must be a domain-prefixed path (such as 'acme.io/foo')",
                )
            )
    if spec.get("parameters") is not None:
        causes += _validate_parameters("spec.parameters", as_dict(spec["parameters"]))
    return causes


def _validate_parameters(field: str, params: dict[str, Any]) -> list[Cause]:
    causes = [required(f"{field}.{k}") for k in ("kind", "name") if not params.get(k)]
    scope, namespace = params.get("scope"), params.get("namespace")
    if scope is not None and scope not in PARAMETER_SCOPES:
        causes.append(not_supported(f"{field}.scope", scope, PARAMETER_SCOPES))
    if scope == "Namespace" and not namespace:
        causes.append(required(f"{field}.namespace", "`parameters.scope` is set to 'Namespace'"))
    if scope == "Cluster" and namespace:
        causes.append(forbidden(f"{field}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return causes
