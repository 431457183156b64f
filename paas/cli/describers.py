"""What ``paas describe`` says about each kind: pure functions from an object to rows.

Rows are tuples of cells (see ``describe.render``): ``(key, value)`` lines,
or a single cell for headings. Indentation is part of the key, as in kubectl.
Objects come from the server but may lack any field, so every read is
defensive and a missing value prints ``<none>``. Kinds not listed in
``DESCRIBERS`` get the metadata plus ``spec``/``status`` as YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from orchestrator.api.conditions import conditions_of
from orchestrator.api.objects import Obj, controller_ref, metadata_of
from orchestrator.api.selectors import SelectorError, selector_from_label_selector_object
from paas.cli.printing import format_lines, to_yaml

Row = tuple[str, ...]


def timestamp(value: Any) -> str:
    """RFC 3339 as kubectl prints it: ``Mon, 02 Jan 2006 15:04:05 +0000``."""
    if not value:
        return "<unset>"
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return when.strftime("%a, %d %b %Y %H:%M:%S %z") if when.tzinfo else str(value)


def kv(indent: int, key: str, value: Any) -> list[Row]:
    """``key: value``; a list value continues on the next lines under the first."""
    pad = " " * indent
    values = value if isinstance(value, list) else [value]
    values = [("<none>" if v in (None, "") else str(v)) for v in values] or ["<none>"]
    return [(f"{pad}{key}:", values[0]), *((pad, v) for v in values[1:])]


def mapping_lines(m: Any, sep: str = "=") -> list[str]:
    if not isinstance(m, dict) or not m:
        return ["<none>"]
    return [f"{k}{sep}{v}" for k, v in sorted(m.items())]


def selector_text(selector: Any) -> str:
    try:
        return str(selector_from_label_selector_object(selector or {})) or "<none>"
    except SelectorError:
        return "<invalid>"


def metadata_rows(obj: Obj) -> list[Row]:
    meta = metadata_of(obj)
    rows = kv(0, "Name", meta.get("name"))
    if meta.get("namespace"):
        rows += kv(0, "Namespace", meta["namespace"])
    rows += kv(0, "CreationTimestamp", timestamp(meta.get("creationTimestamp")))
    rows += kv(0, "Labels", mapping_lines(meta.get("labels")))
    rows += kv(0, "Annotations", mapping_lines(meta.get("annotations"), ": "))
    owner = controller_ref(obj)
    if owner is not None:
        rows += kv(0, "Controlled By", f"{owner.get('kind')}/{owner.get('name')}")
    if meta.get("deletionTimestamp"):
        rows += kv(0, "Terminating Since", timestamp(meta["deletionTimestamp"]))
    return rows


def _ports(ports: Any) -> str:
    if not ports:
        return "<none>"
    return ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports)


def container_rows(containers: Any, indent: int, statuses: Any = None) -> list[Row]:
    by_name = {s.get("name"): s for s in statuses or []}
    rows: list[Row] = []
    for c in containers or []:
        pad = indent + 2
        rows.append((f"{' ' * (indent + 1)}{c.get('name')}:",))
        rows += kv(pad, "Image", c.get("image"))
        rows += kv(pad, "Port", _ports(c.get("ports")))
        if c.get("command"):
            rows += kv(pad, "Command", [str(x) for x in c["command"]])
        if c.get("args"):
            rows += kv(pad, "Args", [str(x) for x in c["args"]])
        status = by_name.get(c.get("name"))
        if status is not None:
            state = status.get("state") or {}
            rows += kv(pad, "State", (next(iter(state), "Waiting") or "").capitalize())
            reason: Obj = next(iter(state.values()), {}) or {}
            if reason.get("reason"):
                rows += kv(pad + 2, "Reason", reason["reason"])
            if reason.get("startedAt"):
                rows += kv(pad + 2, "Started", timestamp(reason["startedAt"]))
            rows += kv(pad, "Ready", "True" if status.get("ready") else "False")
            rows += kv(pad, "Restart Count", status.get("restartCount", 0))
        env = [
            f"{e.get('name')}: {e.get('value', '<set from a source>')}" for e in c.get("env") or []
        ]
        rows += kv(pad, "Environment", env or "<none>")
        mounts = [f"{m.get('mountPath')} from {m.get('name')}" for m in c.get("volumeMounts") or []]
        rows += kv(pad, "Mounts", mounts or "<none>")
    return rows


def template_rows(template: Any) -> list[Row]:
    template = template or {}
    spec = template.get("spec") or {}
    rows: list[Row] = [("Pod Template:",)]
    rows += kv(2, "Labels", mapping_lines(metadata_of(template).get("labels")))
    rows.append(("  Containers:",))
    rows += container_rows(spec.get("containers"), 2)
    volumes = [f"{v.get('name')}" for v in spec.get("volumes") or []]
    rows += kv(2, "Volumes", volumes or "<none>")
    return rows


def condition_rows(obj: Obj, with_reason: bool = True) -> list[Row]:
    conditions = conditions_of(obj)
    if not conditions:
        return []
    header = ["Type", "Status", "Reason"] if with_reason else ["Type", "Status"]
    lines = [header, ["-" * len(h) for h in header]]
    for c in conditions:
        line = [str(c.get("type", "")), str(c.get("status", ""))]
        if with_reason:
            line.append(str(c.get("reason") or ""))
        lines.append(line)
    return [("Conditions:",), *((f"  {t}",) for t in format_lines(lines, gap=2))]


def describe_deployment(obj: Obj) -> list[Row]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    rows = metadata_rows(obj)
    rows += kv(0, "Selector", selector_text(spec.get("selector")))
    replicas = status.get("replicas", 0)
    rows += kv(
        0,
        "Replicas",
        f"{spec.get('replicas', 1)} desired | "
        f"{status.get('updatedReplicas', 0)} updated | {replicas} total | "
        f"{status.get('availableReplicas', 0)} available | "
        f"{status.get('unavailableReplicas', 0)} unavailable",
    )
    strategy = spec.get("strategy") or {}
    rows += kv(0, "StrategyType", strategy.get("type", "RollingUpdate"))
    rows += kv(0, "MinReadySeconds", spec.get("minReadySeconds", 0))
    rolling = strategy.get("rollingUpdate")
    if rolling:
        rows += kv(
            0,
            "RollingUpdateStrategy",
            f"{rolling.get('maxUnavailable', '25%')} max "
            f"unavailable, {rolling.get('maxSurge', '25%')} max surge",
        )
    rows += template_rows(spec.get("template"))
    return rows + condition_rows(obj)


def describe_replicaset(obj: Obj) -> list[Row]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    rows = metadata_rows(obj)
    rows += kv(0, "Selector", selector_text(spec.get("selector")))
    rows += kv(
        0, "Replicas", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired"
    )
    rows += kv(0, "Pods Status", f"{status.get('readyReplicas', 0)} Ready")
    return rows + template_rows(spec.get("template"))


def describe_pod(obj: Obj) -> list[Row]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    rows = metadata_rows(obj)
    node = spec.get("nodeName")
    rows += kv(0, "Node", f"{node}/{status['hostIP']}" if node and status.get("hostIP") else node)
    rows += kv(
        0, "Start Time", timestamp(status.get("startTime")) if status.get("startTime") else None
    )
    rows += kv(
        0,
        "Status",
        "Terminating" if metadata_of(obj).get("deletionTimestamp") else status.get("phase"),
    )
    if status.get("reason"):
        rows += kv(0, "Reason", status["reason"])
    rows += kv(0, "IP", status.get("podIP"))
    rows.append(("Containers:",))
    rows += container_rows(spec.get("containers"), 0, status.get("containerStatuses"))
    rows += condition_rows(obj, with_reason=False)
    rows += kv(0, "QoS Class", status.get("qosClass"))
    return rows


def describe_service(obj: Obj, endpoints: Obj | None = None) -> list[Row]:
    spec = obj.get("spec") or {}
    rows = metadata_rows(obj)
    rows += kv(0, "Selector", ",".join(mapping_lines(spec.get("selector"))))
    rows += kv(0, "Type", spec.get("type", "ClusterIP"))
    rows += kv(0, "IP", spec.get("clusterIP"))
    for port in spec.get("ports") or []:
        proto = port.get("protocol", "TCP")
        rows += kv(0, "Port", f"{port.get('name') or '<unset>'}  {port.get('port')}/{proto}")
        rows += kv(0, "TargetPort", f"{port.get('targetPort', port.get('port'))}/{proto}")
        if port.get("nodePort"):
            rows += kv(0, "NodePort", f"{port['nodePort']}/{proto}")
        rows += kv(0, "Endpoints", _endpoint_text(endpoints, port.get("name")))
    rows += kv(0, "Session Affinity", spec.get("sessionAffinity", "None"))
    return rows


def _endpoint_text(endpoints: Obj | None, port_name: Any) -> str:
    found = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = [
            p for p in subset.get("ports") or [] if (p.get("name") or None) == (port_name or None)
        ] or (subset.get("ports") or [])[:1]
        for address in subset.get("addresses") or []:
            found += [f"{address.get('ip')}:{p.get('port')}" for p in ports]
    return ",".join(found) or "<none>"


def describe_configmap(obj: Obj) -> list[Row]:
    rows = [*metadata_rows(obj), ("",), ("Data",), ("====",)]
    for key, value in sorted((obj.get("data") or {}).items()):
        rows += [(f"{key}:",), ("----",), *((line,) for line in str(value).splitlines()), ("",)]
    rows += [("",), ("BinaryData",), ("====",)]
    for key, value in sorted((obj.get("binaryData") or {}).items()):
        rows.append((f"{key}: {len(str(value)) * 3 // 4} bytes",))
    return [*rows, ("",)]


def describe_secret(obj: Obj) -> list[Row]:
    rows = [*metadata_rows(obj), ("",), *kv(0, "Type", obj.get("type", "Opaque"))]
    rows += [("",), ("Data",), ("====",)]
    for key, value in sorted((obj.get("data") or {}).items()):
        rows += kv(0, key, f"{len(str(value)) * 3 // 4} bytes")
    return [*rows, ("",)]


def describe_generic(obj: Obj) -> list[Row]:
    rows = metadata_rows(obj)
    for section in ("spec", "data", "status"):
        if obj.get(section):
            rows.append((f"{section.capitalize()}:",))
            rows += [(f"  {line}",) for line in to_yaml(obj[section]).splitlines()]
    return rows


DESCRIBERS: dict[tuple[str, str], Callable[..., list[Row]]] = {
    ("apps", "Deployment"): describe_deployment,
    ("apps", "ReplicaSet"): describe_replicaset,
    ("", "Pod"): describe_pod,
    ("", "Service"): describe_service,
    ("", "ConfigMap"): describe_configmap,
    ("", "Secret"): describe_secret,
}


def describe(obj: Obj, **extra: Any) -> list[Row]:
    """Rows describing ``obj`` (``extra``: related objects a describer takes)."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    describer = DESCRIBERS.get((group, str(obj.get("kind", ""))))
    if describer is None:
        return describe_generic(obj)
    return describer(obj, **extra)
