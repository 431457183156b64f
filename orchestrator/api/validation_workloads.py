"""Rules for the workload kinds: Deployment, ReplicaSet, Job and CronJob.

They share one shape (a selector, a pod template the selector must match,
counts that may not be negative) and differ in the restart policies their
pods may have: ``Always`` for the replicated kinds, ``OnFailure`` or
``Never`` for jobs, whose pods are meant to finish.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.api.schema_types import is_integer
from orchestrator.api.validation_causes import (
    Cause,
    forbidden,
    invalid,
    not_supported,
    required,
)
from orchestrator.api.validation_pods import (
    as_dict,
    check_enum,
    check_min,
    selector_matches,
    validate_label_selector,
    validate_pod_template,
)

CRONJOB_NAME_MAX = 52  # leaves room for the 11-character suffix of its jobs
DEPLOYMENT_STRATEGIES = ("Recreate", "RollingUpdate")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
COMPLETION_MODES = ("Indexed", "NonIndexed")
JOB_RESTART_POLICIES = ("OnFailure", "Never")
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_ITEM = r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
CRON_FIELD = re.compile(rf"{CRON_ITEM}(,{CRON_ITEM})*")
PERCENT_MESSAGE = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)
SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def _template_labels(template: Any) -> dict[str, Any]:
    return as_dict(as_dict(as_dict(template).get("metadata")).get("labels"))


def _check_selector_matches(field: str, selector: Any, template: Any) -> list[Cause]:
    """The template's labels must be selected by ``selector`` (both present)."""
    if not isinstance(selector, dict) or template is None:
        return []
    labels = _template_labels(template)
    if selector_matches(selector, labels):
        return []
    return [invalid(f"{field}.template.metadata.labels", labels, SELECTOR_MISMATCH)]


def _validate_replicated(spec: dict[str, Any], kind: str) -> list[Cause]:
    """What Deployments and ReplicaSets share: replicas, selector, template."""
    causes = check_min("spec.replicas", spec.get("replicas"), 0)
    causes += check_min("spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    selector = spec.get("selector")
    if selector is None:
        causes.append(required("spec.selector"))
    elif isinstance(selector, dict):
        causes += validate_label_selector("spec.selector", selector)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            detail = f"empty selector is invalid for {kind}"
            causes.append(invalid("spec.selector", selector, detail))
    template = spec.get("template")
    causes += validate_pod_template("spec.template", template, ("Always",))
    return causes + _check_selector_matches("spec", selector, template)


def validate_deployment(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = _validate_replicated(spec, "deployment")
    strategy = as_dict(spec.get("strategy"))
    causes += check_enum("spec.strategy.type", strategy.get("type"), DEPLOYMENT_STRATEGIES)
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate") is not None:
        detail = "may not be specified when strategy `type` is 'Recreate'"
        causes.append(forbidden("spec.strategy.rollingUpdate", detail))
    rolling = as_dict(strategy.get("rollingUpdate"))
    for key in ("maxSurge", "maxUnavailable"):
        causes += _validate_int_or_percent(f"spec.strategy.rollingUpdate.{key}", rolling.get(key))
    if rolling.get("maxSurge") in (0, "0%") and rolling.get("maxUnavailable") in (0, "0%"):
        detail = "may not be 0 when `maxSurge` is 0"
        field = "spec.strategy.rollingUpdate.maxUnavailable"
        causes.append(invalid(field, rolling["maxUnavailable"], detail))
    causes += check_min("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    causes += check_min("spec.progressDeadlineSeconds", spec.get("progressDeadlineSeconds"), 1)
    return causes


def _validate_int_or_percent(field: str, value: Any) -> list[Cause]:
    if is_integer(value):
        return check_min(field, value, 0)
    if isinstance(value, str) and not re.fullmatch(r"[0-9]+%", value):
        return [invalid(field, value, PERCENT_MESSAGE)]
    return []


def validate_replicaset(obj: dict[str, Any]) -> list[Cause]:
    return _validate_replicated(as_dict(obj.get("spec")), "replicaset")


def _validate_job_spec(field: str, spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        causes += check_min(f"{field}.{key}", spec.get(key), 0)
    causes += check_min(f"{field}.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), 1)
    causes += check_enum(f"{field}.completionMode", spec.get("completionMode"), COMPLETION_MODES)
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        causes.append(required(f"{field}.completions", "when completion mode is Indexed"))
    template = spec.get("template")
    causes += validate_pod_template(f"{field}.template", template, JOB_RESTART_POLICIES)
    policy = as_dict(as_dict(template).get("spec")).get("restartPolicy")
    if template is not None and policy in (None, ""):
        path = f"{field}.template.spec.restartPolicy"
        causes.append(not_supported(path, "", JOB_RESTART_POLICIES))
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes += validate_label_selector(f"{field}.selector", selector)
    return causes + _check_selector_matches(field, selector, template)


def validate_job(obj: dict[str, Any]) -> list[Cause]:
    return _validate_job_spec("spec", as_dict(obj.get("spec")))


def validate_cronjob(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    name = as_dict(obj.get("metadata")).get("name")
    if isinstance(name, str) and len(name) > CRONJOB_NAME_MAX:
        detail = f"must be no more than {CRONJOB_NAME_MAX} characters"
        causes.append(invalid("metadata.name", name, detail))
    schedule = spec.get("schedule")
    if not schedule:
        causes.append(required("spec.schedule"))
    elif isinstance(schedule, str) and not is_cron_schedule(schedule):
        causes.append(invalid("spec.schedule", schedule, "unparseable cron schedule"))
    policy = spec.get("concurrencyPolicy")
    causes += check_enum("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES)
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += check_min(f"spec.{key}", spec.get(key), 0)
    job_template = spec.get("jobTemplate")
    if job_template is None:
        causes.append(required("spec.jobTemplate"))
    else:
        job_spec = as_dict(as_dict(job_template).get("spec"))
        causes += _validate_job_spec("spec.jobTemplate.spec", job_spec)
    return causes


def is_cron_schedule(schedule: str) -> bool:
    """A standard five-field expression (names, ranges, steps) or an @-macro."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        text = text.partition(" ")[2].strip()
    if text.startswith("@every "):
        return re.fullmatch(r"@every ([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+", text) is not None
    if text.startswith("@"):
        return text in CRON_MACROS
    fields = text.split()
    return len(fields) == 5 and all(CRON_FIELD.fullmatch(f) for f in fields)
