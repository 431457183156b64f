"""Validation of what pods are made of: PodSpec, containers, volumes, templates.

Used for Pods and for every pod template (Deployment, ReplicaSet, Job,
CronJob), with the path prefix of where the spec sits, so a cause names
``spec.template.spec.containers[0].image``. Wrong JSON types are reported by
the schema walk, not here: each check below skips a value of the wrong type
rather than report it twice (or crash on it).

Also here: label maps and label selectors (validation and matching), since
templates are where selectors meet labels.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.schema_kinds import VOLUME_SOURCES
from orchestrator.api.schema_types import is_integer
from orchestrator.api.validation_causes import (
    Cause,
    duplicate,
    forbidden,
    invalid,
    invalid_all,
    not_found,
    not_supported,
    required,
)
from orchestrator.api.validation_names import (
    check_dns1123_label,
    check_dns1123_subdomain,
    check_env_var_name,
    check_label_value,
    check_port_name,
    check_port_number,
    check_qualified_name,
    check_quantity,
)

PROTOCOLS = ("SCTP", "TCP", "UDP")
RESTART_POLICIES = ("Always", "Never", "OnFailure")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("FallbackToLogsOnError", "File")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")
SELECTOR_OPERATORS = ("DoesNotExist", "Exists", "In", "NotIn")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
EMPTY_KEY_MEANING = '"match all values and all keys"'


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (type errors are reported apart)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_enum(field: str, value: Any, supported: tuple[str, ...]) -> list[Cause]:
    """A set string must be one of ``supported``; unset or mistyped passes."""
    if isinstance(value, str) and value not in supported:
        return [not_supported(field, value, supported)]
    return []


def check_min(field: str, value: Any, minimum: int) -> list[Cause]:
    """An integer at least ``minimum`` (0 or 1 in practice)."""
    if is_integer(value) and value < minimum:
        if minimum == 0:
            return [invalid(field, value, "must be greater than or equal to 0")]
        return [invalid(field, value, f"must be greater than or equal to {minimum}")]
    return []


def validate_labels(field: str, labels: Any) -> list[Cause]:
    """Label keys are qualified names, values label values (both reported at ``field``)."""
    causes: list[Cause] = []
    for key, value in as_dict(labels).items():
        causes += invalid_all(field, key, check_qualified_name(key))
        if isinstance(value, str):
            causes += invalid_all(field, value, check_label_value(value))
    return causes


def validate_label_selector(field: str, selector: Any) -> list[Cause]:
    selector = as_dict(selector)
    causes = validate_labels(f"{field}.matchLabels", selector.get("matchLabels"))
    for i, expression in enumerate(as_list(selector.get("matchExpressions"))):
        path = f"{field}.matchExpressions[{i}]"
        expression = as_dict(expression)
        key, operator = expression.get("key"), expression.get("operator")
        values = as_list(expression.get("values"))
        if isinstance(key, str):
            causes += invalid_all(f"{path}.key", key, check_qualified_name(key))
        if not operator:
            causes.append(required(f"{path}.operator"))
        causes += check_enum(f"{path}.operator", operator, SELECTOR_OPERATORS)
        if operator in ("In", "NotIn") and not values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            causes.append(required(f"{path}.values", detail))
        if operator in ("Exists", "DoesNotExist") and values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            causes.append(forbidden(f"{path}.values", detail))
    return causes


def selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Whether a LabelSelector selects an object with ``labels`` (empty selects all)."""
    for key, value in as_dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in as_list(selector.get("matchExpressions")):
        expression = as_dict(expression)
        name, operator = str(expression.get("key")), expression.get("operator")
        values = as_list(expression.get("values"))
        present = name in labels
        if operator == "In" and not (present and labels[name] in values):
            return False
        if operator == "NotIn" and present and labels[name] in values:
            return False
        if (operator == "Exists") != present and operator in ("Exists", "DoesNotExist"):
            return False
    return True


def validate_pod_template(
    field: str, template: Any, restart_policies: tuple[str, ...] | None = None
) -> list[Cause]:
    """A PodTemplateSpec at ``field``; ``restart_policies`` narrows the allowed ones."""
    if template is None:
        return [required(field)]
    template = as_dict(template)
    metadata = as_dict(template.get("metadata"))
    causes = validate_labels(f"{field}.metadata.labels", metadata.get("labels"))
    spec = as_dict(template.get("spec"))
    causes += validate_pod_spec(f"{field}.spec", spec)
    policy = spec.get("restartPolicy")
    if restart_policies and isinstance(policy, str) and policy in RESTART_POLICIES:
        causes += check_enum(f"{field}.spec.restartPolicy", policy, restart_policies)
    return causes


def validate_pod_spec(field: str, spec: dict[str, Any]) -> list[Cause]:
    """Every rule on a PodSpec at ``field`` (``spec`` or ``spec.template.spec``)."""
    volumes = as_list(spec.get("volumes"))
    volume_names = {as_dict(v).get("name") for v in volumes}
    containers = spec.get("containers")
    causes: list[Cause] = []
    if not containers:
        causes.append(required(f"{field}.containers"))
    causes += _validate_volumes(f"{field}.volumes", volumes)
    seen_names: set[str] = set()
    seen_ports: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(as_list(spec.get(group))):
            path = f"{field}.{group}[{i}]"
            container = as_dict(container)
            name = container.get("name")
            if isinstance(name, str) and name in seen_names:
                causes.append(duplicate(f"{path}.name", name))
            elif isinstance(name, str):
                seen_names.add(name)
            causes += _validate_container(path, container, volume_names, seen_ports)
    causes += check_enum(f"{field}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    causes += check_enum(f"{field}.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES)
    causes += validate_labels(f"{field}.nodeSelector", spec.get("nodeSelector"))
    causes += check_min(
        f"{field}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds"), 0
    )
    causes += check_min(f"{field}.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), 1)
    for key in ("hostname", "subdomain"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            causes += invalid_all(f"{field}.{key}", value, check_dns1123_label(value))
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        causes += invalid_all(
            f"{field}.serviceAccountName", account, check_dns1123_subdomain(account)
        )
    for i, toleration in enumerate(as_list(spec.get("tolerations"))):
        causes += _validate_toleration(f"{field}.tolerations[{i}]", as_dict(toleration))
    return causes


def _validate_volumes(field: str, volumes: list[Any]) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        path = f"{field}[{i}]"
        volume = as_dict(volume)
        name = volume.get("name")
        if not name:
            causes.append(required(f"{path}.name"))
        elif isinstance(name, str):
            causes += invalid_all(f"{path}.name", name, check_dns1123_label(name))
            if name in seen:
                causes.append(duplicate(f"{path}.name", name))
            seen.add(name)
        sources = [s for s in VOLUME_SOURCES if volume.get(s) is not None]
        if len(sources) > 1:
            causes.append(
                forbidden(f"{path}.{sources[1]}", "may not specify more than 1 volume type")
            )
        for source, key in (
            ("secret", "secretName"),
            ("persistentVolumeClaim", "claimName"),
            ("hostPath", "path"),
        ):
            if isinstance(volume.get(source), dict) and not volume[source].get(key):
                causes.append(required(f"{path}.{source}.{key}"))
    return causes


def _validate_container(
    field: str, container: dict[str, Any], volume_names: set[Any], seen_ports: set[str]
) -> list[Cause]:
    causes: list[Cause] = []
    name = container.get("name")
    if not name:
        causes.append(required(f"{field}.name"))
    elif isinstance(name, str):
        causes += invalid_all(f"{field}.name", name, check_dns1123_label(name))
    if not container.get("image"):
        causes.append(required(f"{field}.image"))
    for i, port in enumerate(as_list(container.get("ports"))):
        causes += _validate_container_port(f"{field}.ports[{i}]", as_dict(port), seen_ports)
    for i, env in enumerate(as_list(container.get("env"))):
        env_name = as_dict(env).get("name")
        if not env_name:
            causes.append(required(f"{field}.env[{i}].name"))
        elif isinstance(env_name, str):
            causes += invalid_all(f"{field}.env[{i}].name", env_name, check_env_var_name(env_name))
    resources = as_dict(container.get("resources"))
    for section in ("limits", "requests"):
        for resource, quantity in as_dict(resources.get(section)).items():
            if isinstance(quantity, str | int | float) and not isinstance(quantity, bool):
                path = f"{field}.resources.{section}[{resource}]"
                causes += invalid_all(path, quantity, check_quantity(quantity))
    mount_paths: set[str] = set()
    for i, mount in enumerate(as_list(container.get("volumeMounts"))):
        path = f"{field}.volumeMounts[{i}]"
        mount = as_dict(mount)
        mount_name, mount_path = mount.get("name"), mount.get("mountPath")
        if not mount_name:
            causes.append(required(f"{path}.name"))
        elif isinstance(mount_name, str) and mount_name not in volume_names:
            causes.append(not_found(f"{path}.name", mount_name))
        if not mount_path:
            causes.append(required(f"{path}.mountPath"))
        elif isinstance(mount_path, str) and mount_path in mount_paths:
            causes.append(invalid(f"{path}.mountPath", mount_path, "must be unique"))
        elif isinstance(mount_path, str):
            mount_paths.add(mount_path)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            causes += _validate_probe(f"{field}.{probe}", container[probe], probe)
    causes += check_enum(
        f"{field}.imagePullPolicy", container.get("imagePullPolicy"), PULL_POLICIES
    )
    causes += check_enum(
        f"{field}.terminationMessagePolicy",
        container.get("terminationMessagePolicy"),
        TERMINATION_MESSAGE_POLICIES,
    )
    return causes


def _validate_container_port(field: str, port: dict[str, Any], seen: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    number = port.get("containerPort")
    if number is None:
        causes.append(required(f"{field}.containerPort"))
    elif is_integer(number):
        causes += invalid_all(f"{field}.containerPort", number, check_port_number(number))
    host_port = port.get("hostPort")
    if is_integer(host_port) and host_port != 0:
        causes += invalid_all(f"{field}.hostPort", host_port, check_port_number(host_port))
    causes += check_enum(f"{field}.protocol", port.get("protocol"), PROTOCOLS)
    name = port.get("name")
    if isinstance(name, str) and name:
        causes += invalid_all(f"{field}.name", name, check_port_name(name))
        if name in seen:
            causes.append(duplicate(f"{field}.name", name))
        seen.add(name)
    return causes


def validate_port_ref(field: str, value: Any) -> list[Cause]:
    """An int-or-string port: a number 1-65535 or an IANA port name."""
    if value is None or value == "":
        return [required(field)]
    if is_integer(value):
        return invalid_all(field, value, check_port_number(value))
    if isinstance(value, str):
        return invalid_all(field, value, check_port_name(value))
    return []


def _validate_probe(field: str, probe: dict[str, Any], kind: str) -> list[Cause]:
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    causes: list[Cause] = []
    if not handlers:
        causes.append(required(field, "must specify a handler type"))
    elif len(handlers) > 1:
        causes.append(
            forbidden(f"{field}.{handlers[1]}", "may not specify more than 1 handler type")
        )
    for handler in ("httpGet", "tcpSocket"):
        if isinstance(probe.get(handler), dict):
            port_field = f"{field}.{handler}.port"
            causes += validate_port_ref(port_field, probe[handler].get("port"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "failureThreshold"):
        causes += check_min(f"{field}.{key}", probe.get(key), 0)
    success = probe.get("successThreshold")
    causes += check_min(f"{field}.successThreshold", success, 0)
    if kind != "readinessProbe" and is_integer(success) and success not in (0, 1):
        causes.append(invalid(f"{field}.successThreshold", success, "must be 1"))
    return causes


def _validate_toleration(field: str, toleration: dict[str, Any]) -> list[Cause]:
    key, operator = toleration.get("key"), toleration.get("operator")
    causes: list[Cause] = []
    if isinstance(key, str) and key:
        causes += invalid_all(f"{field}.key", key, check_qualified_name(key))
    elif operator not in (None, "", "Exists"):
        detail = "operator must be Exists when `key` is empty, which means " + EMPTY_KEY_MEANING
        causes.append(invalid(f"{field}.operator", operator, detail))
    causes += check_enum(f"{field}.operator", operator or None, TOLERATION_OPERATORS)
    if operator == "Exists" and toleration.get("value"):
        detail = "value must be empty when `operator` is 'Exists'"
        causes.append(invalid(f"{field}.operator", toleration["value"], detail))
    causes += check_enum(f"{field}.effect", toleration.get("effect") or None, TAINT_EFFECTS)
    return causes
