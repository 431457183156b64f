"""Knative's validation of the serving kinds, for the validating webhook.

``validate(kind, obj, old)`` returns the field errors of an object about to
be written (``old`` is the stored one on update), with paths from the
object's root, as ``pkg/apis/serving/v1/*_validation.go`` builds them:

- metadata: a DNS-1035 name; no ``autoscaling.knative.dev/*`` annotation
  outside a template; a ``rollout-duration`` in whole seconds; a
  ``serving.knative.dev/service`` (``/configuration``) label only with an
  owner reference to that Service (Configuration);
- a template: its RevisionSpec (``podspec``), its autoscaling annotations,
  and a name, when given, that starts with ``<parent>-``; on update a
  template changed under an unchanged name is refused;
- traffic: targets summing to exactly 100, percents in [0,100], unique DNS
  tags, revisionName xor configurationName (none at all inside a Service),
  ``latestRevision`` agreeing with revisionName, no ``url`` in spec;
- a Revision's spec never changes; the creator annotation never changes,
  nor lastModifier without a spec change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.api.validation_names import check_dns1035_label, check_qualified_name
from paas.serving import autoscaling
from paas.serving import fielderrors as fe
from paas.serving.fielderrors import Errors, FieldError
from paas.serving.kinds import (
    CONFIGURATION_LABEL,
    CREATOR_ANNOTATION,
    PROGRESS_DEADLINE_ANNOTATION,
    ROLLOUT_DURATION_ANNOTATION,
    SERVICE_LABEL,
    UPDATER_ANNOTATION,
)
from paas.serving.podspec import validate_revision_spec

Obj = dict[str, Any]


def _meta(obj: Mapping[str, Any]) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _names(meta: Obj) -> Errors:
    """knative.dev/pkg ValidateObjectMetadata: paths relative to metadata."""
    name, generate = meta.get("name", ""), meta.get("generateName", "")
    if generate:
        prefix = generate[:-1] if generate.endswith("-") else generate
        problems = check_dns1035_label(prefix) if prefix else []
        if problems:
            return [
                FieldError(
                    f"not a DNS 1035 label prefix: {fe.go_list(problems)}", ("generateName",)
                )
            ]
    if name:
        problems = check_dns1035_label(name)
        if problems:
            return [FieldError(f"not a DNS 1035 label: {fe.go_list(problems)}", ("name",))]
    if not name and not generate:
        return [FieldError("name or generateName is required", ("name",))]
    return []


def _duration_annotation(annotations: Obj, key: str, label: str) -> Errors:
    value = annotations.get(key)
    if not value:
        return []
    try:
        seconds = autoscaling.parse_duration(str(value))
    except ValueError:
        return [fe.invalid_value(value, key)]
    if seconds != round(seconds):
        return [FieldError(f"{label}={value} is not at second precision", (key,))]
    if seconds < 0:
        return [FieldError(f"{label}={value} must be positive", (key,))]
    return []


def _no_autoscaling_annotations(annotations: Obj) -> Errors:
    detail = (
        'autoscaling annotations must be put under "spec.template.metadata.annotations" to work'
    )
    return [
        fe.invalid_key_name(key, fe.CURRENT, detail)
        for key in annotations
        if key.startswith(autoscaling.PREFIX)
    ]


def _owner_label(meta: Obj, label: str, kind: str) -> Errors:
    value = _dict(meta.get("labels")).get(label)
    if value is None:
        return []
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == kind and ref.get("name") == value:
            return []
    return [fe.missing(label)]


def _top_metadata(obj: Obj, *, owner_label: tuple[str, str] | None, rollout: bool) -> Errors:
    meta = _meta(obj)
    annotations = _dict(meta.get("annotations"))
    errs = _names(meta) + fe.via(_no_autoscaling_annotations(annotations), "annotations")
    if owner_label is not None:
        errs += fe.via(_owner_label(meta, *owner_label), "labels")
    if rollout:
        errs += fe.via(
            _duration_annotation(annotations, ROLLOUT_DURATION_ANNOTATION, "rollout-duration"),
            "annotations",
        )
    return fe.via(errs, "metadata")


def validate_template(template: Any, parent: Obj) -> Errors:
    """RevisionTemplateSpec.Validate; paths relative to the template."""
    template = _dict(template)
    meta = _dict(template.get("metadata"))
    annotations = {str(k): str(v) for k, v in _dict(meta.get("annotations")).items()}
    errs = fe.via(validate_revision_spec(template.get("spec")), "spec")
    errs += fe.via(autoscaling.validate_annotations(annotations), "metadata.annotations")
    errs += fe.via(
        _duration_annotation(annotations, PROGRESS_DEADLINE_ANNOTATION, "progress-deadline"),
        "metadata.annotations",
    )
    errs += _revision_name(meta, parent)
    return errs


def _revision_name(meta: Obj, parent: Obj) -> Errors:
    generate, name = meta.get("generateName", ""), meta.get("name", "")
    if generate:
        prefix = generate[:-1] if generate.endswith("-") else generate
        if problems := check_dns1035_label(prefix):
            message = f"not a DNS 1035 label prefix: {fe.go_list(problems)}"
            return [fe.invalid_value(message, "metadata.generateName")]
    if not name:
        return []
    if problems := check_dns1035_label(name):
        return [fe.invalid_value(f"not a DNS 1035 label: {fe.go_list(problems)}", "metadata.name")]
    parent_name = parent.get("name", "")
    if not parent_name and parent.get("generateName"):
        return [fe.disallowed("metadata.name")]
    prefix = f"{parent_name}-"
    if not name.startswith(prefix):
        message = f"{fe.go_quote(name)} must have prefix {fe.go_quote(prefix)}"
        return [fe.invalid_value(message, "metadata.name")]
    return []


def validate_traffic(traffic: Any, *, in_service: bool) -> Errors:
    """validateTrafficList within a spec; paths relative to the list."""
    errs: Errors = []
    tags: dict[str, int] = {}
    total = 0
    for i, target in enumerate(traffic if isinstance(traffic, list) else []):
        t = _dict(target)
        errs += fe.via_index(_validate_target(t, in_service=in_service), i)
        percent = t.get("percent")
        if isinstance(percent, int) and not isinstance(percent, bool):
            total += percent
        tag = t.get("tag") or ""
        if not tag:
            continue
        if problems := check_dns1035_label(str(tag)):
            value = f"not a DNS 1035 label: {fe.go_list(problems)}"
            errs.append(fe.invalid_value(value, f"tag[{i}]"))  # Knative's own path shape
        if tag in tags:
            message = f"Multiple definitions for {fe.go_quote(str(tag))}"
            errs.append(FieldError(message, (f"[{i}].tag", f"[{tags[tag]}].tag")))
        else:
            tags[tag] = i
    if total != 100:
        errs.append(FieldError(f"Traffic targets sum to {total}, want 100", (fe.CURRENT,)))
    return errs


def _validate_target(t: Obj, *, in_service: bool) -> Errors:
    errs: Errors = []
    revision, configuration = t.get("revisionName") or "", t.get("configurationName") or ""
    latest = t.get("latestRevision")
    if latest is not None and bool(revision) == bool(latest):
        message = (
            f"may not set revisionName {fe.go_quote(str(revision))} "
            f"when latestRevision is {fe.go_value(bool(latest))}"
        )
        errs.append(FieldError(message, ("latestRevision",)))
    if in_service and configuration:
        errs.append(fe.disallowed("configurationName"))
    elif revision and configuration:
        errs.append(fe.multiple_one_of("revisionName", "configurationName"))
    elif revision:
        if problems := check_qualified_name(str(revision)):
            errs.append(fe.invalid_key_name(str(revision), "revisionName", *problems))
    elif configuration:
        if problems := check_qualified_name(str(configuration)):
            errs.append(fe.invalid_key_name(str(configuration), "configurationName", *problems))
    elif not in_service:
        errs.append(fe.missing_one_of("revisionName", "configurationName"))
    percent = t.get("percent")
    if isinstance(percent, int) and not isinstance(percent, bool) and not 0 <= percent <= 100:
        errs.append(fe.out_of_bounds(percent, 0, 100, "percent"))
    if t.get("url"):
        errs.append(fe.disallowed("url"))
        if not t.get("tag"):
            errs.append(fe.disallowed("url"))
    return errs


def short_diff(old: Any, new: Any) -> str:
    """A short ``-old +new`` listing of the fields that differ (Knative prints a go-cmp diff)."""
    lines: list[str] = []

    def walk(path: str, a: Any, b: Any) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(f"{path}.{key}" if path else str(key), a.get(key), b.get(key))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(f"{path}[{i}]", x, y)
        elif a != b:
            if a is not None:
                lines.append(f"-: {path}: {json.dumps(a, sort_keys=True)}")
            if b is not None:
                lines.append(f"+: {path}: {json.dumps(b, sort_keys=True)}")

    walk("", old, new)
    return "\n".join(lines)


def _template_name_change(new_spec: Obj, old_spec: Obj) -> Errors:
    new, old = _dict(new_spec.get("template")), _dict(old_spec.get("template"))
    name = _dict(new.get("metadata")).get("name")
    if not name or name != _dict(old.get("metadata")).get("name"):
        return []
    if new == old:
        return []
    message = "Saw the following changes without a name change (-old +new)"
    return fe.via([FieldError(message, ("metadata.name",), short_diff(old, new))], "spec.template")


def _creator_and_modifier(new: Obj, old: Obj) -> Errors:
    new_a, old_a = _dict(_meta(new).get("annotations")), _dict(_meta(old).get("annotations"))
    errs: Errors = []
    if new_a.get(CREATOR_ANNOTATION) != old_a.get(CREATOR_ANNOTATION):
        errs.append(FieldError("annotation value is immutable", (CREATOR_ANNOTATION,)))
    if new.get("spec") == old.get("spec") and new_a.get(UPDATER_ANNOTATION) != old_a.get(
        UPDATER_ANNOTATION
    ):
        errs.append(fe.invalid_value(new_a.get(UPDATER_ANNOTATION, ""), UPDATER_ANNOTATION))
    return fe.via(errs, "metadata.annotations")


def validate_service(obj: Obj, old: Obj | None) -> Errors:
    errs = _top_metadata(obj, owner_label=None, rollout=True)
    spec = _dict(obj.get("spec"))
    errs += fe.via(validate_template(spec.get("template"), _meta(obj)), "spec.template")
    errs += fe.via(validate_traffic(spec.get("traffic"), in_service=True), "spec.traffic")
    if old is not None:
        errs += _creator_and_modifier(obj, old)
        errs += _template_name_change(spec, _dict(old.get("spec")))
    return errs


def validate_configuration(obj: Obj, old: Obj | None) -> Errors:
    errs = _top_metadata(obj, owner_label=(SERVICE_LABEL, "Service"), rollout=False)
    spec = _dict(obj.get("spec"))
    errs += fe.via(validate_template(spec.get("template"), _meta(obj)), "spec.template")
    if old is not None:
        if not _meta(obj).get("ownerReferences"):
            errs += _creator_and_modifier(obj, old)
        errs += _template_name_change(spec, _dict(old.get("spec")))
    return errs


def validate_route(obj: Obj, old: Obj | None) -> Errors:
    errs = _top_metadata(obj, owner_label=(SERVICE_LABEL, "Service"), rollout=True)
    spec = _dict(obj.get("spec"))
    errs += fe.via(validate_traffic(spec.get("traffic"), in_service=False), "spec.traffic")
    if old is not None and not _meta(obj).get("ownerReferences"):
        errs += _creator_and_modifier(obj, old)
    return errs


def validate_revision(obj: Obj, old: Obj | None) -> Errors:
    meta = _meta(obj)
    annotations = {str(k): str(v) for k, v in _dict(meta.get("annotations")).items()}
    errs = _names(meta)
    errs += fe.via(autoscaling.validate_annotations(annotations), "annotations")
    errs += fe.via(_owner_label(meta, CONFIGURATION_LABEL, "Configuration"), "labels")
    errs = fe.via(errs, "metadata")
    if old is not None:
        if obj.get("spec") != old.get("spec"):
            message = "Immutable fields changed (-old +new)"
            return [FieldError(message, ("spec",), short_diff(old.get("spec"), obj.get("spec")))]
        return errs
    return errs + fe.via(validate_revision_spec(obj.get("spec")), "spec")


VALIDATORS = {
    "Service": validate_service,
    "Configuration": validate_configuration,
    "Route": validate_route,
    "Revision": validate_revision,
}
