"""Checks of a RevisionSpec (a PodSpec plus Knative's four fields), in Knative's words.

Follows ``pkg/apis/serving/k8s_validation.go`` and ``fieldmask.go`` for the
stock ``config-features`` (multi-container on, every other PodSpec feature
flag off): fields outside the masks are refused ("must not set the
field(s)"), one serving container (the only one, or the one with the port),
Knative's reserved ports, env names and container name, probes with exactly
one handler, ``timeoutSeconds`` up to 600 and ``containerConcurrency`` up to
1000. Paths are relative to the RevisionSpec; callers put ``spec`` (and
``template``) before them.

One deliberate difference: the platform's slug references
(``slug:sha256:<hex>``, DESIGN.md "Images between nodes") are images here,
where Knative's reference parser would refuse them.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.api.validation_names import check_dns1123_subdomain
from paas.serving import fielderrors as fe
from paas.serving.fielderrors import Errors, FieldError

REVISION_FIELDS = {
    "containerConcurrency",
    "timeoutSeconds",
    "responseStartTimeoutSeconds",
    "idleTimeoutSeconds",
}
POD_FIELDS = {
    "serviceAccountName",
    "containers",
    "volumes",
    "imagePullSecrets",
    "enableServiceLinks",
    "automountServiceAccountToken",
}
CONTAINER_FIELDS = {
    "name",
    "image",
    "command",
    "args",
    "env",
    "envFrom",
    "workingDir",
    "imagePullPolicy",
    "ports",
    "resources",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
    "securityContext",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "volumeMounts",
}
PORT_FIELDS = {"containerPort", "name", "protocol"}
PROBE_FIELDS = {
    "httpGet",
    "tcpSocket",
    "exec",
    "grpc",
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
}
RESERVED_PORTS = {8012, 8013, 8022, 9090, 9091, 8008}
RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
RESERVED_SIDECAR_ENV = {"K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
RESERVED_CONTAINER_NAMES = {"queue-proxy"}
VALID_PORT_NAMES = {"", "h2c", "http1"}
DEFAULT_PORT = 8080  # Knative's user port when none is declared
MAX_TIMEOUT_SECONDS = 600  # config-defaults max-revision-timeout-seconds
MAX_CONTAINER_CONCURRENCY = 1000  # config-defaults container-concurrency-max-limit

_SLUG = re.compile(r"slug:sha256:[0-9a-f]{64}")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{{32,}})?"
)


def image_problem(image: str) -> str:
    """Why ``image`` is not an image reference ("" when it is one)."""
    if _SLUG.fullmatch(image):
        return ""
    repository = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if _REFERENCE.fullmatch(image) and len(repository) <= 255:
        return ""
    return f"could not parse reference: {image}"


def _disallowed(obj: Any, allowed: set[str]) -> Errors:
    if not isinstance(obj, dict):
        return []
    extra = sorted(k for k in obj if k not in allowed)
    return [fe.disallowed(*extra)] if extra else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def serving_port(containers: list[Any]) -> tuple[dict[str, Any], Errors]:
    """The one serving port (name defaulted to http, number to 8080) and port-count errors."""
    count, port = 0, {}
    for c in containers:
        ports = (c or {}).get("ports") or [] if isinstance(c, dict) else []
        if ports:
            count += len(ports)
            port = dict(ports[0]) if isinstance(ports[0], dict) else {}
    port.setdefault("name", "")
    port["name"] = port["name"] or "http"
    port["containerPort"] = _int(port.get("containerPort")) or DEFAULT_PORT
    if count == 0 and len(containers) > 1:
        return port, [fe.missing("ports")]
    if count > 1:
        detail = "Only a single port is allowed across all containers"
        return port, [FieldError("more than one container port is set", ("ports",), detail)]
    return port, []


def validate_revision_spec(spec: Any) -> Errors:
    """Knative's RevisionSpec.Validate; paths relative to the spec."""
    if not isinstance(spec, dict):
        return [fe.missing("containers")]
    errs = _disallowed(spec, POD_FIELDS | REVISION_FIELDS)
    containers = spec.get("containers") or []
    if not isinstance(containers, list):
        containers = []
    mounted = {
        m.get("name")
        for c in containers
        if isinstance(c, dict)
        for m in c.get("volumeMounts") or []
        if isinstance(m, dict)
    }
    volumes = spec.get("volumes") or []
    errs += fe.via(_validate_volumes(volumes, mounted), "volumes")
    port, more = serving_port(containers)
    errs += fe.via(more, "containers[*]")
    if not containers:
        errs.append(fe.missing("containers"))
    elif len(containers) == 1:
        errs += fe.via_field_index(_validate_container(containers[0], port, True), "containers", 0)
    else:
        seen: set[str] = set()
        for i, c in enumerate(containers):
            name = (c or {}).get("name", "") if isinstance(c, dict) else ""
            if name in seen:
                dup = FieldError(f"duplicate container name {fe.go_quote(name)}", ("name",))
                errs += fe.via_field_index([dup], "containers", i)
            seen.add(name)
            user = isinstance(c, dict) and bool(c.get("ports"))
            errs += fe.via_field_index(_validate_container(c, port, user), "containers", i)
    account = spec.get("serviceAccountName")
    if account:
        for problem in check_dns1123_subdomain(str(account)):
            errs.append(fe.invalid_value(account, "serviceAccountName", problem))
    if spec.get("automountServiceAccountToken") is True:
        errs.append(fe.disallowed("automountServiceAccountToken"))
    timeout = spec.get("timeoutSeconds")
    if timeout is not None and timeout != 0:
        n = _int(timeout)
        if n is None or not 0 <= n <= MAX_TIMEOUT_SECONDS:
            errs.append(fe.out_of_bounds(timeout, 0, MAX_TIMEOUT_SECONDS, "timeoutSeconds"))
    cc = spec.get("containerConcurrency")
    if cc is not None:
        n = _int(cc)
        if n is None or not 0 <= n <= MAX_CONTAINER_CONCURRENCY:
            errs.append(fe.out_of_bounds(cc, 0, MAX_CONTAINER_CONCURRENCY, "containerConcurrency"))
    return errs


def _validate_volumes(volumes: Any, mounted: set[Any]) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, v in enumerate(volumes if isinstance(volumes, list) else []):
        name = (v or {}).get("name", "") if isinstance(v, dict) else ""
        if name in seen:
            errs += fe.via_index(
                [FieldError(f"duplicate volume name {fe.go_quote(name)}", ("name",))], i
            )
        elif name not in mounted:
            errs += fe.via_index(
                [FieldError(f"volume with name {fe.go_quote(name)} not mounted", ("name",))], i
            )
        seen.add(name)
        if not name:
            errs += fe.via_index([fe.missing("name")], i)
    return errs


def _validate_container(container: Any, port: dict[str, Any], user: bool) -> Errors:
    if not container:
        return [fe.missing(fe.CURRENT)]
    if not isinstance(container, dict):
        return [fe.invalid_value(container, fe.CURRENT)]
    errs = _disallowed(container, CONTAINER_FIELDS)
    name = container.get("name", "")
    if name in RESERVED_CONTAINER_NAMES:
        errs.append(FieldError(f"{fe.go_quote(name)} is a reserved container name", ("name",)))
    reserved = RESERVED_ENV if user else RESERVED_SIDECAR_ENV
    for i, env in enumerate(container.get("env") or []):
        env_name = (env or {}).get("name", "") if isinstance(env, dict) else ""
        if not env_name:
            errs += fe.via_field_index([fe.missing("name")], "env", i)
        elif env_name in reserved:
            message = f"{fe.go_quote(env_name)} is a reserved environment variable"
            errs += fe.via_field_index([FieldError(message, ("name",))], "env", i)
    image = container.get("image") or ""
    if not image:
        errs.append(fe.missing("image"))
    elif problem := image_problem(str(image)):
        details = f"image: {fe.go_quote(str(image))}, error: {problem}"
        errs.append(FieldError("Failed to parse image reference", ("image",), details))
    ports = container.get("ports") or []
    if ports and isinstance(ports[0], dict):
        errs += fe.via(_validate_port(ports[0]), "ports")
    policy = container.get("terminationMessagePolicy", "")
    if policy not in ("", "File", "FallbackToLogsOnError"):
        errs.append(fe.invalid_value(policy, "terminationMessagePolicy"))
    for field in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(field)
        if probe is None:
            continue
        if not user:
            errs += fe.via(_disallowed(probe, set()), field)
            continue
        errs += fe.via(_validate_probe(probe, port, readiness=field == "readinessProbe"), field)
    return errs


def _validate_port(port: dict[str, Any]) -> Errors:
    errs = _disallowed(port, PORT_FIELDS)
    number = port.get("containerPort", 0)
    if number in RESERVED_PORTS:
        errs.append(
            fe.invalid_value(
                f"{number} is a reserved port",
                "containerPort",
                f"{number} is a reserved port, please use a different value",
            )
        )
    if _int(number) is None or not 0 <= number <= 65535:
        errs.append(fe.out_of_bounds(number, 0, 65535, "containerPort"))
    protocol = port.get("protocol", "")
    if protocol not in ("", "TCP"):
        errs.append(fe.invalid_value(protocol, "protocol"))
    name = port.get("name", "")
    if name not in VALID_PORT_NAMES:
        errs.append(
            FieldError(
                f"Port name {name} is not allowed",
                (fe.CURRENT,),
                "Name must be empty, or one of: 'h2c', 'http1'",
            )
        )
    return errs


def _validate_probe(probe: Any, port: dict[str, Any], *, readiness: bool) -> Errors:
    if not isinstance(probe, dict):
        return [fe.invalid_value(probe, fe.CURRENT)]
    errs = _disallowed(probe, PROBE_FIELDS)
    handlers = [h for h in ("httpGet", "tcpSocket", "exec", "grpc") if probe.get(h) is not None]
    for handler in ("httpGet", "tcpSocket"):
        action = probe.get(handler)
        if isinstance(action, dict):
            named = action.get("port")
            if isinstance(named, str) and named and named != port.get("name"):
                detail = "Probe port must match container port"
                errs.append(fe.invalid_value(named, f"{handler}.port", detail))
    if not handlers:
        errs.append(fe.missing_one_of("httpGet", "tcpSocket", "exec", "grpc"))
    elif len(handlers) > 1:
        errs.append(fe.multiple_one_of(*[("gRPC" if h == "grpc" else h) for h in handlers]))
    if not readiness:
        return errs
    period = _int(probe.get("periodSeconds", 0)) or 0
    for field, low in (("periodSeconds", 0), ("initialDelaySeconds", 0), ("successThreshold", 1)):
        value = _int(probe.get(field, 0)) or 0
        if value < low:
            errs.append(fe.out_of_bounds(value, low, 2**31 - 1, field))
    if period == 0:
        for field in ("failureThreshold", "timeoutSeconds"):
            if probe.get(field):
                message = f"{field} is disallowed when periodSeconds is zero"
                errs.append(FieldError(message, (field,)))
    else:
        for field in ("timeoutSeconds", "failureThreshold"):
            value = _int(probe.get(field, 0)) or 0
            if value < 1:
                errs.append(fe.out_of_bounds(value, 1, 2**31 - 1, field))
    return errs
