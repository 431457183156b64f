"""Mutating/ValidatingWebhookConfiguration: server defaults and validation.

Kubernetes applies the defaults of ``admissionregistration/v1/defaults.go``
when it decodes the object, then validates the defaulted object
(``admissionregistration/validation/validation.go``); the API server does the
same with ``default_configuration`` then ``validate_configuration``. Every
problem is reported at once, in Kubernetes' words and field paths
(``webhooks[0].clientConfig.url``), ready for a 422 ``Invalid`` Status.

Metadata (the configuration's own name) is the API server's generic object
check and is not repeated here. ``matchConditions`` are checked for shape
(count, names, non-empty expressions) but their CEL is not compiled: the
dispatcher does not evaluate them (see ``matching``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from orchestrator.api.copying import copy_json
from orchestrator.api.validation_causes import (
    Cause,
    duplicate,
    invalid,
    invalid_all,
    not_supported,
    required,
)
from orchestrator.api.validation_names import (
    PORT_RANGE_MESSAGE,
    check_dns1035_label,
    check_dns1123_subdomain,
    check_qualified_name,
)
from orchestrator.api.validation_pods import as_dict, as_list, validate_label_selector

FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")  # all a new or changed webhook may declare
REINVOCATION_POLICIES = ("IfNeeded", "Never")
RULE_OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
RULE_SCOPES = ("*", "Cluster", "Namespaced")
REVIEW_VERSIONS = ("v1", "v1beta1")  # AdmissionReview versions a configuration may name
MAX_MATCH_CONDITIONS = 64
DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_SERVICE_PORT = 443
_URL_FORM = "; desired format: https://host[/path]"


def default_configuration(obj: dict[str, Any], *, mutating: bool) -> dict[str, Any]:
    """A copy of ``obj`` with Kubernetes' server-side defaults on every webhook."""
    out = copy_json(obj)
    for hook in as_list(out.get("webhooks")):
        if not isinstance(hook, dict):
            continue
        _default(hook, "failurePolicy", "Fail")
        _default(hook, "matchPolicy", "Equivalent")
        _default(hook, "namespaceSelector", {})
        _default(hook, "objectSelector", {})
        _default(hook, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if mutating:
            _default(hook, "reinvocationPolicy", "Never")
        for rule in as_list(hook.get("rules")):
            if isinstance(rule, dict):
                _default(rule, "scope", "*")
        service = as_dict(as_dict(hook.get("clientConfig")).get("service"))
        if service:
            _default(service, "port", DEFAULT_SERVICE_PORT)
    return out


def _default(fields: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` when absent or null (JSON null is Go's nil pointer, which gets defaulted)."""
    if fields.get(key) is None:
        fields[key] = value


def validate_configuration(obj: dict[str, Any], *, mutating: bool) -> list[Cause]:
    """Every problem with the webhooks of a (defaulted) configuration; empty when valid."""
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, hook in enumerate(as_list(obj.get("webhooks"))):
        path = f"webhooks[{i}]"
        hook = as_dict(hook)
        causes += _validate_webhook(path, hook, mutating=mutating)
        causes += _validate_review_versions(
            f"{path}.admissionReviewVersions", hook.get("admissionReviewVersions")
        )
        name = hook.get("name")
        if isinstance(name, str) and name:
            if name in seen:
                causes.append(duplicate(f"{path}.name", name))
            seen.add(name)
    return causes


def _validate_webhook(path: str, hook: dict[str, Any], *, mutating: bool) -> list[Cause]:
    causes = _validate_hook_name(f"{path}.name", hook.get("name"))
    for i, rule in enumerate(as_list(hook.get("rules"))):
        causes += _validate_rule(f"{path}.rules[{i}]", as_dict(rule))
    causes += _check_enum(f"{path}.failurePolicy", hook.get("failurePolicy"), FAILURE_POLICIES)
    causes += _check_enum(f"{path}.matchPolicy", hook.get("matchPolicy"), MATCH_POLICIES)
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        detail = f"must specify one of {', '.join(NO_SIDE_EFFECTS)}"
        causes.append(required(f"{path}.sideEffects", detail))
    else:
        causes += _check_enum(f"{path}.sideEffects", side_effects, NO_SIDE_EFFECTS)
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and not (isinstance(timeout, int) and 1 <= timeout <= 30):
        detail = "the timeout value must be between 1 and 30 seconds"
        causes.append(invalid(f"{path}.timeoutSeconds", timeout, detail))
    for selector in ("namespaceSelector", "objectSelector"):
        if hook.get(selector) is not None:
            causes += validate_label_selector(f"{path}.{selector}", hook[selector])
    if mutating:
        policy = hook.get("reinvocationPolicy")
        causes += _check_enum(f"{path}.reinvocationPolicy", policy, REINVOCATION_POLICIES)
    causes += _validate_client_config(f"{path}.clientConfig", as_dict(hook.get("clientConfig")))
    causes += _validate_match_conditions(f"{path}.matchConditions", hook.get("matchConditions"))
    return causes


def _check_enum(field: str, value: Any, supported: tuple[str, ...]) -> list[Cause]:
    if value is None or value in supported:
        return []
    return [not_supported(field, value, supported)]


def _validate_hook_name(field: str, name: Any) -> list[Cause]:
    """Kubernetes' ``IsFullyQualifiedName``: a DNS subdomain of at least three labels."""
    if not isinstance(name, str) or not name:
        return [required(field)]
    problems = check_dns1123_subdomain(name)
    if problems:
        return [invalid(field, name, ",".join(problems))]
    if len(name.split(".")) < 3:
        detail = "should be a domain with at least three segments separated by dots"
        return [invalid(field, name, detail)]
    return []


def _validate_rule(path: str, rule: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    operations = as_list(rule.get("operations"))
    if not operations:
        causes.append(required(f"{path}.operations"))
    if len(operations) > 1 and "*" in operations:
        detail = "if '*' is present, must not specify other operations"
        causes.append(invalid(f"{path}.operations", operations, detail))
    for i, operation in enumerate(operations):
        if operation not in RULE_OPERATIONS:
            causes.append(not_supported(f"{path}.operations[{i}]", operation, RULE_OPERATIONS))
    groups = as_list(rule.get("apiGroups"))
    if not groups:
        causes.append(required(f"{path}.apiGroups"))
    if len(groups) > 1 and "*" in groups:
        detail = "if '*' is present, must not specify other API groups"
        causes.append(invalid(f"{path}.apiGroups", groups, detail))
    versions = as_list(rule.get("apiVersions"))
    if not versions:
        causes.append(required(f"{path}.apiVersions"))
    if len(versions) > 1 and "*" in versions:
        detail = "if '*' is present, must not specify other API versions"
        causes.append(invalid(f"{path}.apiVersions", versions, detail))
    causes += [required(f"{path}.apiVersions[{i}]") for i, v in enumerate(versions) if v == ""]
    causes += _validate_resources(f"{path}.resources", as_list(rule.get("resources")))
    causes += _check_enum(f"{path}.scope", rule.get("scope"), RULE_SCOPES)
    return causes


def _validate_resources(path: str, resources: list[Any]) -> list[Cause]:
    """``x``, ``*``, ``x/*``, ``*/sub``, ``*/*`` and the combinations Kubernetes forbids."""
    causes: list[Cause] = [required(path)] if not resources else []
    with_any_subresource: set[str] = set()  # x/*
    under_any_resource: set[str] = set()  # */x
    single_wildcard = plain_resource = double_wildcard = False
    for i, entry in enumerate(resources):
        if not isinstance(entry, str) or entry == "":
            causes.append(required(f"{path}[{i}]"))
            continue
        double_wildcard |= entry == "*/*"
        single_wildcard |= entry == "*"
        resource, slash, sub = entry.partition("/")
        if not slash:
            plain_resource = entry != "*"  # as Kubernetes: the last plain entry decides
            continue
        if resource in with_any_subresource:
            detail = f"if '{resource}/*' is present, must not specify {entry}"
            causes.append(invalid(f"{path}[{i}]", entry, detail))
        if sub in under_any_resource:
            causes.append(
                invalid(f"{path}[{i}]", entry, f"if '*/{sub}' is present, must not specify {entry}")
            )
        if sub == "*":
            with_any_subresource.add(resource)
        if resource == "*":
            under_any_resource.add(sub)
    if len(resources) > 1 and double_wildcard:
        detail = "if '*/*' is present, must not specify other resources"
        causes.append(invalid(path, resources, detail))
    if single_wildcard and plain_resource:
        detail = "if '*' is present, must not specify other resources without subresources"
        causes.append(invalid(path, resources, detail))
    return causes


def _validate_client_config(path: str, config: dict[str, Any]) -> list[Cause]:
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [required(path, "exactly one of url or service is required")]
    if url is not None:
        return _validate_url(f"{path}.url", str(url))
    return _validate_service(f"{path}.service", as_dict(service))


def _validate_url(field: str, url: str) -> list[Cause]:
    """Kubernetes' ``ValidateWebhookURL`` with https forced."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port, as Go's url.Parse does
    except ValueError as exc:
        return [required(field, f"url must be a valid URL: {exc}{_URL_FORM}")]
    causes: list[Cause] = []
    if parts.scheme != "https":
        causes.append(
            invalid(field, parts.scheme, "'https' is the only allowed URL scheme" + _URL_FORM)
        )
    if not parts.hostname:
        causes.append(invalid(field, "", "host must be specified" + _URL_FORM))
    if "@" in parts.netloc:
        user = parts.netloc.rpartition("@")[0]
        causes.append(invalid(field, user, "user information is not permitted in the URL"))
    if parts.fragment:
        causes.append(invalid(field, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        causes.append(invalid(field, parts.query, "query parameters are not permitted in the URL"))
    return causes


def _validate_service(path: str, service: dict[str, Any]) -> list[Cause]:
    """Kubernetes' ``ValidateWebhookService``: name, namespace, port and path segments."""
    causes: list[Cause] = []
    if not service.get("name"):
        causes.append(required(f"{path}.name"))
    if not service.get("namespace"):
        causes.append(required(f"{path}.namespace"))
    port = service.get("port", DEFAULT_SERVICE_PORT)
    if not (isinstance(port, int) and 1 <= port <= 65535):
        causes.append(invalid(f"{path}.port", port, f"port is not valid: {PORT_RANGE_MESSAGE}"))
    url_path = service.get("path")
    if not isinstance(url_path, str) or url_path in ("", "/"):
        return causes
    if url_path == "//":
        return [*causes, invalid(f"{path}.path", url_path, "segment[0] may not be empty")]
    if not url_path.startswith("/"):
        causes.append(invalid(f"{path}.path", url_path, "must start with a '/'"))
    steps = url_path[1:]
    steps = steps[:-1] if steps.endswith("/") else steps
    for i, step in enumerate(steps.split("/")):
        if not step:
            causes.append(invalid(f"{path}.path", url_path, f"segment[{i}] may not be empty"))
            continue
        for problem in check_dns1123_subdomain(step):
            causes.append(invalid(f"{path}.path", url_path, f"segment[{i}]: {problem}"))
    return causes


def _validate_review_versions(field: str, versions: Any) -> list[Cause]:
    versions = as_list(versions)
    if not versions:
        return [required(field, f"must specify one of {', '.join(REVIEW_VERSIONS)}")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if version in seen:
            causes.append(invalid(f"{field}[{i}]", version, "duplicate version"))
            continue
        seen.add(version)
        causes += invalid_all(f"{field}[{i}]", version, check_dns1035_label(str(version)))
    if not seen & set(REVIEW_VERSIONS):
        detail = f"must include at least one of {', '.join(REVIEW_VERSIONS)}"
        causes.append(invalid(field, versions, detail))
    return causes


def _validate_match_conditions(path: str, conditions: Any) -> list[Cause]:
    conditions = as_list(conditions)
    causes: list[Cause] = []
    if len(conditions) > MAX_MATCH_CONDITIONS:
        message = f"Too many: {len(conditions)}: must have at most {MAX_MATCH_CONDITIONS} items"
        causes.append(Cause(path, "FieldValueTooMany", message))
    names: set[str] = set()
    for i, condition in enumerate(conditions):
        condition = as_dict(condition)
        expression, name = condition.get("expression"), condition.get("name")
        if not isinstance(expression, str) or not expression.strip():
            causes.append(required(f"{path}[{i}].expression"))
        if not isinstance(name, str) or not name:
            causes.append(required(f"{path}[{i}].name"))
            continue
        causes += invalid_all(f"{path}[{i}].name", name, check_qualified_name(name))
        if name in names:
            causes.append(duplicate(f"{path}[{i}].name", name))
        names.add(name)
    return causes
