"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and
prints whatever columns the server describes, so the familiar ``kubectl get``
output is decided here. Each kind has a ``ColumnSet``: its column definitions
and a pure function from (object, now) to one row of cells, in column order.
As in Kubernetes, the server always renders the ``-o wide`` columns too
(``priority`` 1) and kubectl hides them unless asked. The cells follow the
printers of kubernetes/pkg/printers/internalversion, so ``Status`` of a pod is
``CrashLoopBackOff`` or ``Init:0/1`` rather than the bare phase, and ages are
rendered like Go's ``duration.HumanDuration``. A kind with no column set gets
``Name, Age``; more kinds are added by passing a larger mapping to
``build_table`` (``{**COLUMN_SETS, "App": ...}``), not by mutating a registry.

Objects come from clients and may be partial or odd: every cell function reads
defensively and renders a placeholder (``<none>``, ``<unknown>``, 0) instead
of failing. Rows share sub-dicts with the objects passed in: encode the table,
don't mutate it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.selectors import SelectorError, selector_from_label_selector_object

IncludeObject = Literal["None", "Metadata", "Object"]
CellFunction = Callable[[Mapping[str, Any], datetime], list[Any]]


def human_duration(seconds: float) -> str:
    """Render an elapsed time the way ``kubectl get`` does (``45s``, ``3m6s``, ``5h3m``, ``3d``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = divmod(hours // 24, 365)
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


@dataclass(frozen=True, slots=True)
class Column:
    """One ``columnDefinitions`` entry; priority 0 is shown by default, 1 with ``-o wide``."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def to_definition(self) -> dict[str, Any]:
        """The column as Table JSON."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True, slots=True)
class ColumnSet:
    """How one kind prints: its columns and the function rendering a row's cells."""

    columns: tuple[Column, ...]
    cells: CellFunction


# -- reading objects defensively ---------------------------------------------


def _field(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def _text(obj: Any, *path: str) -> str:
    value = _field(obj, *path)
    return value if isinstance(value, str) else ""


def _number(obj: Any, *path: str) -> int:
    value = _field(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _items(obj: Any, *path: str) -> list[Mapping[str, Any]]:
    value = _field(obj, *path)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _mapping(obj: Any, *path: str) -> Mapping[str, Any] | None:
    value = _field(obj, *path)
    return value if isinstance(value, Mapping) else None


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _elapsed(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def _since(timestamp: str, now: datetime) -> str:
    return _elapsed(_parse_time(timestamp) if timestamp else None, now)


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return _since(_text(obj, "metadata", "creationTimestamp"), now)


def _name(obj: Mapping[str, Any]) -> str:
    return _text(obj, "metadata", "name")


def _or_none(value: str) -> str:
    return value or "<none>"


def _container_cells(pod_spec: Any) -> list[str]:
    containers = _items(pod_spec, "containers")
    return [
        ",".join(_text(container, "name") for container in containers),
        ",".join(_text(container, "image") for container in containers),
    ]


def _selector_text(selector: Any, empty: str) -> str:
    try:
        rendered = str(selector_from_label_selector_object(selector or {}))
    except SelectorError:
        return "<invalid>"
    return rendered or empty


# -- column building blocks ----------------------------------------------------

NAME = Column("Name", format="name", description="Name of the object, unique in its namespace.")
AGE = Column("Age", description="Time since the object was created (metadata.creationTimestamp).")
CONTAINERS = Column("Containers", priority=1, description="Names of the template's containers.")
IMAGES = Column("Images", priority=1, description="Images of the template's containers.")
SELECTOR = Column("Selector", priority=1, description="Label selector of the managed pods.")


def _default_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _age(obj, now)]


DEFAULT_COLUMNS = ColumnSet((NAME, AGE), _default_cells)


# -- Pod -----------------------------------------------------------------------


def _last_termination(container_status: Mapping[str, Any]) -> datetime | None:
    return _parse_time(_text(container_status, "lastState", "terminated", "finishedAt"))


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None or second is None:
        return first or second
    return max(first, second)


def _terminated_reason(terminated: Mapping[str, Any], prefix: str = "") -> str:
    if reason := _text(terminated, "reason"):
        return prefix + reason
    if signal := _number(terminated, "signal"):
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{_number(terminated, 'exitCode')}"


def _pod_cells(pod: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = pod.get("spec"), pod.get("status")
    phase = _text(status, "phase")
    reason = _text(status, "reason") or phase
    if _text(condition_of(pod, "PodScheduled"), "reason") == "SchedulingGated":
        reason = "SchedulingGated"
    init_specs = _items(spec, "initContainers")
    sidecars = {_text(c, "name") for c in init_specs if _text(c, "restartPolicy") == "Always"}
    total = len(_items(spec, "containers")) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    sidecar_last_restart: datetime | None = None
    initializing = False
    for index, container in enumerate(_items(status, "initContainerStatuses")):
        count, finished = _number(container, "restartCount"), _last_termination(container)
        restarts, last_restart = restarts + count, _later(last_restart, finished)
        is_sidecar = _text(container, "name") in sidecars
        if is_sidecar:
            sidecar_restarts += count
            sidecar_last_restart = _later(sidecar_last_restart, finished)
        terminated = _mapping(container, "state", "terminated")
        waiting_reason = _text(container, "state", "waiting", "reason")
        if terminated is not None and _number(terminated, "exitCode") == 0:
            continue
        if is_sidecar and container.get("started") is True:
            ready += 1 if container.get("ready") is True else 0
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = f"Init:{waiting_reason}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or condition_status(pod, "Initialized") == "True":
        restarts, last_restart = sidecar_restarts, sidecar_last_restart
        has_running = False
        for container in reversed(_items(status, "containerStatuses")):
            restarts += _number(container, "restartCount")
            last_restart = _later(last_restart, _last_termination(container))
            terminated = _mapping(container, "state", "terminated")
            if waiting_reason := _text(container, "state", "waiting", "reason"):
                reason = waiting_reason
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") is True and _mapping(container, "state", "running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if condition_status(pod, "Ready") == "True" else "NotReady"
    if _text(pod, "metadata", "deletionTimestamp"):
        if _text(status, "reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restart_cell: int | str = restarts
    if restarts and last_restart is not None:
        restart_cell = f"{restarts} ({_elapsed(last_restart, now)} ago)"
    gates = [_text(gate, "conditionType") for gate in _items(spec, "readinessGates")]
    passed = sum(condition_status(pod, gate) == "True" for gate in gates)
    gates_cell = f"{passed}/{len(gates)}" if gates else ""
    pod_ips = _items(status, "podIPs")
    pod_ip = _text(pod_ips[0], "ip") if pod_ips else _text(status, "podIP")
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restart_cell,
        _age(pod, now),
        _or_none(pod_ip),
        _or_none(_text(spec, "nodeName")),
        _or_none(_text(status, "nominatedNodeName")),
        _or_none(gates_cell),
    ]


POD_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Ready", description="Ready containers of the pod out of all of them."),
        Column("Status", description="The aggregate status of the pod's containers."),
        Column("Restarts", "integer", "Container restarts, and how long ago the last one was."),
        AGE,
        Column("IP", priority=1, description="The pod's IP address."),
        Column("Node", priority=1, description="The node the pod is bound to."),
        Column("Nominated Node", priority=1, description="The node preemption made room on."),
        Column("Readiness Gates", priority=1, description="Readiness gates that are true."),
    ),
    _pod_cells,
)

# -- workloads -----------------------------------------------------------------


def _deployment_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec"), obj.get("status")
    desired = _number(spec, "replicas") if _field(spec, "replicas") is not None else 1
    return [
        _name(obj),
        f"{_number(status, 'readyReplicas')}/{desired}",
        _number(status, "updatedReplicas"),
        _number(status, "availableReplicas"),
        _age(obj, now),
        *_container_cells(_field(spec, "template", "spec")),
        _selector_text(_field(spec, "selector"), ""),
    ]


def _replicaset_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec"), obj.get("status")
    desired = _number(spec, "replicas") if _field(spec, "replicas") is not None else 1
    return [
        _name(obj),
        desired,
        _number(status, "replicas"),
        _number(status, "readyReplicas"),
        _age(obj, now),
        *_container_cells(_field(spec, "template", "spec")),
        _selector_text(_field(spec, "selector"), "<none>"),
    ]


def _job_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec"), obj.get("status")
    succeeded = _number(status, "succeeded")
    parallelism = _number(spec, "parallelism")
    if _field(spec, "completions") is not None:
        completions = f"{succeeded}/{_number(spec, 'completions')}"
    elif parallelism > 1:
        completions = f"{succeeded}/1 of {parallelism}"
    else:
        completions = f"{succeeded}/1"
    started = _parse_time(_text(status, "startTime"))
    finished = _parse_time(_text(status, "completionTime")) or now
    duration = human_duration((finished - started).total_seconds()) if started else ""
    return [
        _name(obj),
        completions,
        duration,
        _age(obj, now),
        *_container_cells(_field(spec, "template", "spec")),
        _selector_text(_field(spec, "selector"), "<none>"),
    ]


def _cronjob_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec"), obj.get("status")
    last_schedule = _text(status, "lastScheduleTime")
    return [
        _name(obj),
        _text(spec, "schedule"),
        "True" if _field(spec, "suspend") is True else "False",
        len(_items(status, "active")),
        _since(last_schedule, now) if last_schedule else "<none>",
        _age(obj, now),
        *_container_cells(_field(spec, "jobTemplate", "spec", "template", "spec")),
        _selector_text(_field(spec, "jobTemplate", "spec", "selector"), "<none>"),
    ]


DEPLOYMENT_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Ready", description="Ready replicas out of the desired number."),
        Column("Up-to-date", "integer", "Replicas running the latest pod template."),
        Column("Available", "integer", "Replicas available to users."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _deployment_cells,
)
REPLICASET_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Desired", "integer", "The desired number of replicas."),
        Column("Current", "integer", "The number of replicas that exist."),
        Column("Ready", "integer", "The number of ready replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _replicaset_cells,
)
JOB_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Completions", description="Succeeded pods out of the completions wanted."),
        Column("Duration", description="Time the job took, or has taken so far."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _job_cells,
)
CRONJOB_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Schedule", description="The cron schedule."),
        Column("Suspend", "boolean", "Whether new runs are suspended."),
        Column("Active", "integer", "Jobs currently running."),
        Column("Last Schedule", description="Time since a job was last scheduled."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _cronjob_cells,
)

# -- networking ----------------------------------------------------------------


def _service_external_ip(spec: Any, status: Any) -> str:
    external = [ip for ip in _field(spec, "externalIPs") or [] if isinstance(ip, str)]
    service_type = _text(spec, "type") or "ClusterIP"
    if service_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if service_type == "LoadBalancer":
        ingress = _items(status, "loadBalancer", "ingress")
        balancers = [_text(i, "ip") or _text(i, "hostname") for i in ingress]
        return ",".join([b for b in balancers if b] + external) or "<pending>"
    if service_type == "ExternalName":
        return _text(spec, "externalName")
    return "<unknown>"


def _service_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = obj.get("spec")
    cluster_ips = [ip for ip in _field(spec, "clusterIPs") or [] if isinstance(ip, str)]
    cluster_ip = cluster_ips[0] if cluster_ips else _text(spec, "clusterIP")
    ports = []
    for port in _items(spec, "ports"):
        node_port = f":{_number(port, 'nodePort')}" if _number(port, "nodePort") else ""
        ports.append(f"{_number(port, 'port')}{node_port}/{_text(port, 'protocol') or 'TCP'}")
    selector = _mapping(spec, "selector") or {}
    return [
        _name(obj),
        _text(spec, "type") or "ClusterIP",
        _or_none(cluster_ip),
        _service_external_ip(spec, obj.get("status")),
        _or_none(",".join(ports)),
        _age(obj, now),
        _or_none(",".join(f"{key}={selector[key]}" for key in sorted(selector))),
    ]


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints_text(obj: Mapping[str, Any], shown: int = 3) -> str:
    subsets = _items(obj, "subsets")
    if not subsets:
        return "<none>"
    everything: list[str] = []
    for subset in subsets:
        ips = [_text(address, "ip") for address in _items(subset, "addresses")]
        ports = _items(subset, "ports")
        if not ports:
            everything.extend(ips)
        for port in ports:
            everything.extend(_join_host_port(ip, _number(port, "port")) for ip in ips)
    listed = ",".join(everything[:shown])
    if len(everything) > shown:
        return f"{listed} + {len(everything) - shown} more..."
    return listed


def _endpoints_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _endpoints_text(obj), _age(obj, now)]


SERVICE_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Type", description="How the service is exposed."),
        Column("Cluster-IP", description="The virtual IP of the service inside the cluster."),
        Column("External-IP", description="Addresses the service is reachable on from outside."),
        Column("Port(s)", description="Ports the service serves (port[:nodePort]/protocol)."),
        AGE,
        Column("Selector", priority=1, description="Labels of the pods the service targets."),
    ),
    _service_cells,
)
ENDPOINTS_COLUMNS = ColumnSet(
    (NAME, Column("Endpoints", description="Ready addresses (ip:port) backing the service."), AGE),
    _endpoints_cells,
)

# -- configuration and cluster -------------------------------------------------


def _configmap_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    count = len(_mapping(obj, "data") or {}) + len(_mapping(obj, "binaryData") or {})
    return [_name(obj), count, _age(obj, now)]


def _secret_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _text(obj, "type"), len(_mapping(obj, "data") or {}), _age(obj, now)]


def _serviceaccount_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    secrets = obj.get("secrets")
    return [_name(obj), len(secrets) if isinstance(secrets, list) else 0, _age(obj, now)]


def _namespace_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _text(obj, "status", "phase") or "Active", _age(obj, now)]


def _node_address(node: Mapping[str, Any], address_type: str) -> str:
    for address in _items(node, "status", "addresses"):
        if _text(address, "type") == address_type:
            return _text(address, "address")
    return "<none>"


def _node_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    ready = condition_of(obj, "Ready")
    if ready is None:
        states = ["Unknown"]
    else:
        states = ["Ready" if _text(ready, "status") == "True" else "NotReady"]
    if _field(obj, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in (_mapping(obj, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and isinstance(value, str) and value:
            roles.add(value)
    info = _mapping(obj, "status", "nodeInfo")
    return [
        _name(obj),
        ",".join(states),
        _or_none(",".join(sorted(roles))),
        _age(obj, now),
        _text(info, "kubeletVersion"),
        _node_address(obj, "InternalIP"),
        _node_address(obj, "ExternalIP"),
        _text(info, "osImage") or "<unknown>",
        _text(info, "kernelVersion") or "<unknown>",
        _text(info, "containerRuntimeVersion") or "<unknown>",
    ]


def _event_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    first_seen = _text(obj, "firstTimestamp") or _text(obj, "eventTime")
    last_seen = _text(obj, "lastTimestamp") or first_seen
    count = _number(obj, "count") or 1
    if _mapping(obj, "series") is not None:
        last_seen = _text(obj, "series", "lastObservedTime")
        count = _number(obj, "series", "count")
    kind = _text(obj, "involvedObject", "kind").lower()
    target = _text(obj, "involvedObject", "name")
    component = _text(obj, "source", "component") or _text(obj, "reportingController")
    instance = _text(obj, "source", "host") or _text(obj, "reportingInstance")
    return [
        _since(last_seen, now),
        _text(obj, "type"),
        _text(obj, "reason"),
        f"{kind}/{target}" if target else kind,
        _text(obj, "involvedObject", "fieldPath"),
        f"{component}, {instance}" if instance else component,
        _text(obj, "message").strip(),
        _since(first_seen, now),
        count,
        _name(obj),
    ]


def _lease_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _text(obj, "spec", "holderIdentity"), _age(obj, now)]


def _binding_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    ref = _mapping(obj, "roleRef") or {}
    kinds: dict[str, list[str]] = {"User": [], "Group": [], "ServiceAccount": []}
    for subject in _items(obj, "subjects"):
        if isinstance(subject, Mapping) and subject.get("kind") in kinds:
            name = str(subject.get("name", ""))
            if subject["kind"] == "ServiceAccount":
                name = f"{subject.get('namespace', '')}/{name}"
            kinds[str(subject["kind"])].append(name)
    return [
        _name(obj),
        f"{_text(ref, 'kind')}/{_text(ref, 'name')}",
        _age(obj, now),
        *(", ".join(names) for names in kinds.values()),
    ]


def _created_at_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _text(obj, "metadata", "creationTimestamp")]


def _webhook_configuration_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_items(obj, "webhooks")), _age(obj, now)]


def _ingress_hosts(obj: Mapping[str, Any]) -> str:
    hosts = [_text(rule, "host") for rule in _items(obj, "spec", "rules")]
    named = [host for host in hosts if host]
    if not named:
        return "*"
    shown = ",".join(named[:3])
    return f"{shown} + {len(named) - 3} more..." if len(named) > 3 else shown


def _load_balancer_text(obj: Mapping[str, Any]) -> str:
    entries = _items(obj, "status", "loadBalancer", "ingress")
    return ",".join(_text(e, "ip") or _text(e, "hostname") for e in entries)


def _ingress_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [
        _name(obj),
        _or_none(_text(obj, "spec", "ingressClassName")),
        _ingress_hosts(obj),
        _load_balancer_text(obj),
        "80, 443" if _items(obj, "spec", "tls") else "80",
        _age(obj, now),
    ]


def _ingress_class_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    params = _mapping(obj, "spec", "parameters")
    shown = "<none>"
    if params is not None:
        kind, group = _text(params, "kind"), _text(params, "apiGroup")
        shown = (
            f"{kind}.{group}/{_text(params, 'name')}"
            if group
            else f"{kind}/{_text(params, 'name')}"
        )
    return [_name(obj), _text(obj, "spec", "controller"), shown, _age(obj, now)]


# Kubernetes' default table convertor, which CustomResourceDefinitions print with: the
# creation time as stored (RFC 3339), not an age.
CREATED_AT_COLUMNS = ColumnSet(
    (NAME, Column("Created At", "date", "When the object was created (RFC 3339, UTC).")),
    _created_at_cells,
)
WEBHOOK_CONFIGURATION_COLUMNS = ColumnSet(
    (NAME, Column("Webhooks", "integer", "Number of webhooks in the configuration."), AGE),
    _webhook_configuration_cells,
)


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def _pvc_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec"), obj.get("status")
    phase = "Terminating" if _text(obj, "metadata", "deletionTimestamp") else None
    volume = _text(spec, "volumeName")
    capacity = access = ""
    if volume:
        capacity = _text(status, "capacity", "storage")
        modes = _field(status, "accessModes") or []
        access = ",".join(short for mode, short in _ACCESS_MODES if mode in modes)
    storage_class = _text(
        obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class"
    ) or _text(spec, "storageClassName")
    return [
        _name(obj),
        phase or _text(status, "phase"),
        volume,
        capacity,
        access,
        storage_class,
        _age(obj, now),
        _text(spec, "volumeMode") or "<unset>",
    ]


CONFIGMAP_COLUMNS = ColumnSet(
    (NAME, Column("Data", "integer", "Number of keys in data and binaryData."), AGE),
    _configmap_cells,
)
SECRET_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Type", description="The type of the secret."),
        Column("Data", "integer", "Number of keys in the secret's data."),
        AGE,
    ),
    _secret_cells,
)
NAMESPACE_COLUMNS = ColumnSet(
    (NAME, Column("Status", description="The lifecycle phase of the namespace."), AGE),
    _namespace_cells,
)
NODE_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Status", description="Readiness of the node, and whether it takes new pods."),
        Column("Roles", description="Roles from node-role.kubernetes.io/ labels."),
        AGE,
        Column("Version", description="The kubelet version the node reports."),
        Column("Internal-IP", priority=1, description="The node's internal address."),
        Column("External-IP", priority=1, description="The node's external address."),
        Column("OS-Image", priority=1, description="The operating system the node reports."),
        Column("Kernel-Version", priority=1, description="The kernel the node reports."),
        Column("Container-Runtime", priority=1, description="The node's container runtime."),
    ),
    _node_cells,
)
EVENT_COLUMNS = ColumnSet(
    (
        Column("Last Seen", description="Time since the event was last observed."),
        Column("Type", description="Normal or Warning."),
        Column("Reason", description="Short machine-readable reason for the event."),
        Column("Object", description="The object the event is about (kind/name)."),
        Column("Subobject", priority=1, description="The part of the object, e.g. a container."),
        Column("Source", priority=1, description="The component that reported the event."),
        Column("Message", description="Human-readable description of the event."),
        Column("First Seen", priority=1, description="Time since the event was first observed."),
        Column("Count", priority=1, description="How many times the event has occurred."),
        Column("Name", priority=1, format="name", description="Name of the event object."),
    ),
    _event_cells,
)
SERVICEACCOUNT_COLUMNS = ColumnSet(
    (NAME, Column("Secrets", "integer", "Number of secrets the account lists."), AGE),
    _serviceaccount_cells,
)
LEASE_COLUMNS = ColumnSet(
    (NAME, Column("Holder", description="Identity of the lease's current holder."), AGE),
    _lease_cells,
)
INGRESS_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Class", description="The IngressClass the ingress asks for."),
        Column("Hosts", description="Hosts the ingress's rules serve (* for any)."),
        Column("Address", description="Where the ingress controller serves it."),
        Column("Ports", description="Ports served: 80, and 443 with TLS."),
        AGE,
    ),
    _ingress_cells,
)
INGRESS_CLASS_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Controller", description="The controller that serves ingresses of the class."),
        Column("Parameters", description="The controller's configuration object, if any."),
        AGE,
    ),
    _ingress_class_cells,
)
BINDING_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Role", description="The role the binding grants (Role/name or ClusterRole/name)."),
        AGE,
        Column("Users", priority=1, description="Users the role is granted to."),
        Column("Groups", priority=1, description="Groups the role is granted to."),
        Column("ServiceAccounts", priority=1, description="ServiceAccounts (namespace/name)."),
    ),
    _binding_cells,
)
PVC_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Status", description="The phase of the claim."),
        Column("Volume", description="The volume bound to the claim."),
        Column("Capacity", description="Storage capacity of the bound volume."),
        Column("Access Modes", description="Access modes of the bound volume."),
        Column("StorageClass", description="The storage class of the claim."),
        AGE,
        Column("VolumeMode", priority=1, description="Filesystem or Block."),
    ),
    _pvc_cells,
)

COLUMN_SETS: Mapping[str, ColumnSet] = MappingProxyType(
    {
        "Pod": POD_COLUMNS,
        "Deployment": DEPLOYMENT_COLUMNS,
        "ReplicaSet": REPLICASET_COLUMNS,
        "Service": SERVICE_COLUMNS,
        "Endpoints": ENDPOINTS_COLUMNS,
        "ConfigMap": CONFIGMAP_COLUMNS,
        "Secret": SECRET_COLUMNS,
        "ServiceAccount": SERVICEACCOUNT_COLUMNS,
        "Namespace": NAMESPACE_COLUMNS,
        "Node": NODE_COLUMNS,
        "Event": EVENT_COLUMNS,
        "Job": JOB_COLUMNS,
        "CronJob": CRONJOB_COLUMNS,
        "Lease": LEASE_COLUMNS,
        "PersistentVolumeClaim": PVC_COLUMNS,
        "Ingress": INGRESS_COLUMNS,
        "IngressClass": INGRESS_CLASS_COLUMNS,
        "Role": CREATED_AT_COLUMNS,
        "ClusterRole": CREATED_AT_COLUMNS,
        "RoleBinding": BINDING_COLUMNS,
        "ClusterRoleBinding": BINDING_COLUMNS,
        "CustomResourceDefinition": CREATED_AT_COLUMNS,
        "MutatingWebhookConfiguration": WEBHOOK_CONFIGURATION_COLUMNS,
        "ValidatingWebhookConfiguration": WEBHOOK_CONFIGURATION_COLUMNS,
    }
)

# -- the Table -----------------------------------------------------------------


def _build_row(
    column_set: ColumnSet, obj: Mapping[str, Any], now: datetime, include_object: str
) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": column_set.cells(obj, now)}
    if include_object == "Object":
        row["object"] = obj
    elif include_object == "Metadata":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    return row


def build_table(
    kind: str,
    objects: list[dict[str, Any]],
    *,
    now: datetime,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    column_sets: Mapping[str, ColumnSet] = COLUMN_SETS,
) -> dict[str, Any]:
    """Render objects of one kind as a ``meta.k8s.io/v1`` Table (``includeObject`` modes)."""
    if include_object not in ("None", "Metadata", "Object"):
        raise ValueError(
            f"includeObject must be one of None, Metadata or Object, not {include_object!r}"
        )
    column_set = column_sets.get(kind, DEFAULT_COLUMNS)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)  # naive means UTC, as timestamps are
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [column.to_definition() for column in column_set.columns],
        "rows": [_build_row(column_set, obj, now, include_object) for obj in objects],
    }
