"""A container's environment, as the kubelet builds it: pure functions over the pod.

Order and precedence follow Kubernetes (``makeEnvironmentVariables``):

1. ``envFrom`` sources, in order, each key optionally prefixed; later ones win.
2. ``env`` entries, in order; each literal value is ``$(VAR)``-expanded
   against what is defined so far *and* the service variables; ``valueFrom``
   reads a ConfigMap or Secret key, a field of the pod, or a resource.
3. The service variables (``<SVC>_SERVICE_HOST``, ``<SVC>_SERVICE_PORT``,
   Docker-link style ``<SVC>_PORT_<port>_TCP...``) of the pod's namespace
   (only the ``kubernetes`` Service of ``default`` when
   ``enableServiceLinks`` is false), unless a name is already defined.
4. Ours: ``PORT`` (the container's first containerPort) and ``HOST`` (the
   pod IP), unless the pod sets them: an app that binds ``$HOST:$PORT``
   never collides with another pod on a node without network namespaces.

``$(VAR)`` follows Kubernetes' expansion: ``$$`` is a literal ``$``, an
unknown or unclosed reference stays as written. Command and args are
expanded the same way against the final environment.

A ConfigMap, Secret or key that is missing (and not ``optional``) raises
``ContainerConfigError`` naming it: the pod worker shows it as the
container's waiting reason ``CreateContainerConfigError`` and tries again
when the object appears.
Objects are read through ``ObjectSource`` (the node agent's informer caches).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable
from typing import Protocol

from orchestrator.api.objects import Obj, annotations_of, labels_of, metadata_of
from orchestrator.api.quantity import QuantityError, parse_quantity

MASTER_SERVICE = ("default", "kubernetes")


class ContainerConfigError(Exception):
    """A container's configuration refers to something missing; the message names it."""


class ObjectSource(Protocol):
    """Where ConfigMaps, Secrets and Services are read from (a cache; None = not found)."""

    def config_map(self, namespace: str, name: str) -> Obj | None: ...

    def secret(self, namespace: str, name: str) -> Obj | None: ...

    def services(self, namespace: str) -> list[Obj]: ...


# -- $(VAR) expansion ---------------------------------------------------------------


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: ``$$`` escapes, unknown references stay literal."""
    if "$" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")  # an unclosed reference is kept as written
                i += 2
                continue
            name = text[i + 2 : close]
            out.append(env[name] if name in env else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


# -- reading sources ------------------------------------------------------------------


def _secret_value(secret: Obj, key: str) -> str | None:
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def config_map_data(cm: Obj) -> dict[str, str]:
    """A ConfigMap's keys as text (binaryData decoded leniently)."""
    out = {k: str(v) for k, v in (cm.get("data") or {}).items()}
    for key, raw in (cm.get("binaryData") or {}).items():
        try:
            out.setdefault(key, base64.b64decode(raw).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            continue
    return out


def secret_data(secret: Obj) -> dict[str, str]:
    """A Secret's keys, base64-decoded to text."""
    out = {}
    for key in secret.get("data") or {}:
        value = _secret_value(secret, key)
        if value is not None:
            out[key] = value
    return out


def _key_ref(
    kind: str, ref: Obj, namespace: str, source: ObjectSource, field_path: str
) -> str | None:
    name = str(ref.get("name") or "")
    key = str(ref.get("key") or "")
    optional = bool(ref.get("optional"))
    obj = (
        source.config_map(namespace, name)
        if kind == "ConfigMap"
        else source.secret(namespace, name)
    )
    if obj is None:
        if optional:
            return None
        raise ContainerConfigError(f'{field_path}: {kind.lower()} "{name}" not found')
    data = config_map_data(obj) if kind == "ConfigMap" else secret_data(obj)
    if key not in data:
        if optional:
            return None
        raise ContainerConfigError(
            f"{field_path}: couldn't find key {key} in {kind} {namespace}/{name}"
        )
    return data[key]


_LABEL_REF = re.compile(r"metadata\.(labels|annotations)\['([^']*)'\]")


def _labels_or_annotations(pod: Obj, which: str) -> dict[str, str]:
    return labels_of(pod) if which == "labels" else annotations_of(pod)


def field_value(pod: Obj, path: str, *, pod_ip: str = "", host_ip: str = "") -> str:
    """A pod field for ``fieldRef``; ContainerConfigError for a path Kubernetes does not offer."""
    meta = metadata_of(pod)
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    match = _LABEL_REF.fullmatch(path)
    if match:
        return str(_labels_or_annotations(pod, match[1]).get(match[2], ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted(_labels_or_annotations(pod, path.split(".")[1]).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise ContainerConfigError(f"fieldRef.fieldPath: unsupported field {path!r}")


def resource_value(pod: Obj, container: Obj, ref: Obj, node_allocatable: dict[str, str]) -> str:
    """``resourceFieldRef``: a limit or request divided by ``divisor``, rounded up."""
    name = ref.get("containerName") or container.get("name")
    target = next(
        (c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == name),
        container,
    )
    resource = str(ref.get("resource") or "")
    kind, _, what = resource.partition(".")
    if kind not in ("limits", "requests") or what not in ("cpu", "memory", "ephemeral-storage"):
        raise ContainerConfigError(f"resourceFieldRef.resource: unsupported resource {resource!r}")
    resources = target.get("resources") or {}
    value = (resources.get(kind) or {}).get(what)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(what)
    if value is None:
        value = node_allocatable.get(what, "0")  # an unset limit is the node's allocatable
    try:
        quantity = parse_quantity(value)
        divisor = parse_quantity(ref.get("divisor") or "1")
    except QuantityError as exc:
        raise ContainerConfigError(f"resourceFieldRef: {exc}") from exc
    if divisor <= 0:
        raise ContainerConfigError("resourceFieldRef.divisor: must be positive")
    return str(max(math.ceil(quantity / divisor), 1 if quantity > 0 else 0))


# -- service variables ----------------------------------------------------------------


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: Iterable[Obj]) -> list[tuple[str, str]]:
    """The variables Kubernetes gives pods for Services with a cluster IP, sorted by service."""
    out: list[tuple[str, str]] = []
    for svc in sorted(services, key=lambda s: metadata_of(s).get("name", "")):
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = [p for p in spec.get("ports") or [] if isinstance(p.get("port"), int)]
        if not ip or ip == "None" or not ports:
            continue
        prefix = _env_name(metadata_of(svc).get("name", ""))
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0]["port"])))
        for p in ports:
            if p.get("name"):
                out.append((f"{prefix}_SERVICE_PORT_{_env_name(p['name'])}", str(p["port"])))
        first = ports[0]
        out.append(
            (f"{prefix}_PORT", f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}")
        )
        for p in ports:
            proto = str(p.get("protocol") or "TCP")
            base = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
            out.append((base, f"{proto.lower()}://{ip}:{p['port']}"))
            out.append((f"{base}_PROTO", proto.lower()))
            out.append((f"{base}_PORT", str(p["port"])))
            out.append((f"{base}_ADDR", ip))
    return out


def pod_services(pod: Obj, source: ObjectSource) -> list[Obj]:
    """The Services whose variables the pod gets (``enableServiceLinks`` honoured)."""
    meta = metadata_of(pod)
    namespace = meta.get("namespace", "")
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen = {
        metadata_of(svc).get("name", ""): svc
        for svc in (source.services(namespace) if links else [])
    }
    if namespace != MASTER_SERVICE[0] or not links:
        master = [
            s
            for s in source.services(MASTER_SERVICE[0])
            if metadata_of(s).get("name") == MASTER_SERVICE[1]
        ]
        if master:
            chosen.setdefault(MASTER_SERVICE[1], master[0])
    return list(chosen.values())


# -- the whole environment --------------------------------------------------------------


def container_env(
    pod: Obj,
    container: Obj,
    source: ObjectSource,
    *,
    pod_ip: str = "",
    host_ip: str = "",
    node_allocatable: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The container's environment, in order; raises ContainerConfigError naming what is missing."""
    namespace = metadata_of(pod).get("namespace", "")
    name = container.get("name", "")
    env: dict[str, str] = {}
    for i, item in enumerate(container.get("envFrom") or []):
        prefix = str(item.get("prefix") or "")
        where = f"container {name!r} envFrom[{i}]"
        if isinstance(item.get("configMapRef"), dict):
            ref = item["configMapRef"]
            cm = source.config_map(namespace, str(ref.get("name") or ""))
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{where}: configmap "{ref.get("name")}" not found')
            data = config_map_data(cm)
        elif isinstance(item.get("secretRef"), dict):
            ref = item["secretRef"]
            secret = source.secret(namespace, str(ref.get("name") or ""))
            if secret is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{where}: secret "{ref.get("name")}" not found')
            data = secret_data(secret)
        else:
            continue
        for key, text in data.items():
            if "=" not in key and key:
                env[prefix + key] = text
    services = dict(service_env(pod_services(pod, source)))
    for i, item in enumerate(container.get("env") or []):
        var = str(item.get("name") or "")
        where = f"container {name!r} env[{i}] ({var})"
        value_from = item.get("valueFrom")
        value: str | None
        if not isinstance(value_from, dict):
            env[var] = expand(str(item.get("value") or ""), {**services, **env})
            continue
        if isinstance(value_from.get("configMapKeyRef"), dict):
            value = _key_ref("ConfigMap", value_from["configMapKeyRef"], namespace, source, where)
        elif isinstance(value_from.get("secretKeyRef"), dict):
            value = _key_ref("Secret", value_from["secretKeyRef"], namespace, source, where)
        elif isinstance(value_from.get("fieldRef"), dict):
            path = str(value_from["fieldRef"].get("fieldPath") or "")
            try:
                value = field_value(pod, path, pod_ip=pod_ip, host_ip=host_ip)
            except ContainerConfigError as exc:
                raise ContainerConfigError(f"{where}: {exc}") from None
        elif isinstance(value_from.get("resourceFieldRef"), dict):
            try:
                value = resource_value(
                    pod, container, value_from["resourceFieldRef"], node_allocatable or {}
                )
            except ContainerConfigError as exc:
                raise ContainerConfigError(f"{where}: {exc}") from None
        else:
            raise ContainerConfigError(f"{where}: valueFrom names no source")
        if value is not None:
            env[var] = value
    for var, value in services.items():
        env.setdefault(var, value)
    ports = [p for p in container.get("ports") or [] if isinstance(p.get("containerPort"), int)]
    if ports:
        env.setdefault("PORT", str(ports[0]["containerPort"]))
    if pod_ip:
        env.setdefault("HOST", pod_ip)
    return list(env.items())


def expand_argv(argv: Iterable[str], env: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Command or args with ``$(VAR)`` expanded against the container's environment."""
    mapping = dict(env)
    return tuple(expand(str(a), mapping) for a in argv)
