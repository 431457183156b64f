"""``x-kubernetes-validations``: CEL rules compiled per CRD version, run per write.

Kubernetes KEP-2876, as apiextensions ``pkg/apiserver/schema/cel`` does it in
v1.31 (the rules have not changed in the versions since, up to the v1.33 our
``/version`` reports):

- ``compile_rules(schema, field)`` walks the structural schema (properties,
  additionalProperties, items; children before the node, as upstream) and
  compiles every entry (``cel_compile``); its causes are the CRD write's 422.
  The result keeps only the nodes with rules below them, so evaluation walks
  nothing else, and a schema without rules gives ``CompiledRules.empty``
  (falsy): the write path pays one truth test.
- ``CompiledRules.evaluate(obj, old)`` runs each rule at its node for every
  value present (each element under ``items``/``additionalProperties``);
  ``null`` values are not validated. ``self`` is the typed view of
  ``cel_values``; ``oldSelf`` is bound only on update with a correlated old
  value (same property, same map key, same list-map key); a transition rule
  without one is skipped, unless ``optionalOldSelf`` binds it as an optional.
- Failures read as in v1.31, whose value is the node's schema type for
  scalars too (``spec.replicas: Invalid value: "integer": failed rule: ...``;
  v1.32+ shows a scalar's value and omits an object's); ``Forbidden``/
  ``Required`` carry the message, ``Duplicate`` only the type. A root rule's
  field is ``<nil>``, Go's rendering of an empty path. A rule's
  ``fieldPath`` is appended to the node's path.
- Ratcheting (CRDValidationRatcheting, on by default since v1.30): on update,
  a failing rule that does not use ``oldSelf`` at a node whose value equals
  its correlated old value is a warning, not an error. Pass ``warnings`` to
  collect those texts.

Cost. The library counts no work and cannot be interrupted, so we bound it
before running: a rule costs ``tokens x nodes ** depth``, where ``nodes`` is
the number of JSON values in ``self`` and ``depth`` the nesting of its
comprehension macros. That over-estimates (a rule over one list of a big
object is charged for all of it) but keeps a quadratic rule over a large list
from running. Limits are Kubernetes': 10^6 per call (the rule is refused with
upstream's "call cost exceeds limit" text) and 10^7 per object (``validation
failed due to running out of cost budget, no further validation rules will
be run``); both stop all further rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from orchestrator.api.openapi.cel_compile import check_fields, compile_entry
from orchestrator.api.openapi.cel_library import functions_for
from orchestrator.api.openapi.cel_run import RuleNode, Run
from orchestrator.api.openapi.cel_values import cel_type
from orchestrator.api.validation_causes import Cause

PER_CALL_LIMIT = 1_000_000  # apiserver pkg/apis/cel/config.go PerCallLimit
RUNTIME_BUDGET = 10_000_000  # RuntimeCELCostBudget, per object


@dataclass(frozen=True)
class CompiledRules:
    """The rules of one CRD version's schema; falsy when there are none."""

    root: RuleNode | None = None
    empty: ClassVar[CompiledRules]

    def __bool__(self) -> bool:
        return self.root is not None

    def evaluate(
        self,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        warnings: list[str] | None = None,
    ) -> list[Cause]:
        """The causes of every failing rule; ``old`` is the stored object on update."""
        if self.root is None:
            return []
        run = Run(RUNTIME_BUDGET, PER_CALL_LIMIT, warnings)
        run.validate(self.root, None, obj, old, unchanged=False)
        return run.causes


CompiledRules.empty = CompiledRules()


def compile_rules(schema: Mapping[str, Any], field: str) -> tuple[CompiledRules, list[Cause]]:
    """Compile every rule of a version's ``openAPIV3Schema`` found at path ``field``."""
    found = _Found([], [])
    root = _compile_node(schema, field, found, resource_root=True, uncorrelatable=None)
    causes = found.schema + found.cel  # upstream lists the entries' field errors first
    if causes or root is None:
        return CompiledRules(), causes
    return CompiledRules(root), []


@dataclass(frozen=True)
class _Found:
    schema: list[Cause]  # an entry's own fields are wrong
    cel: list[Cause]  # an entry does not compile


def _compile_node(
    schema: Mapping[str, Any],
    path: str,
    found: _Found,
    resource_root: bool,
    uncorrelatable: str | None,
) -> RuleNode | None:
    first_cause = len(found.schema)
    properties = []
    for name in sorted(schema.get("properties") or {}):
        sub = schema["properties"][name]
        node = _compile_node(
            sub,
            f"{path}.properties[{name}]",
            found,
            bool(sub.get("x-kubernetes-embedded-resource")),
            uncorrelatable,
        )
        if node is not None:
            properties.append((name, node))
    additional = None
    if isinstance(schema.get("additionalProperties"), Mapping):
        sub = schema["additionalProperties"]
        embedded = bool(sub.get("x-kubernetes-embedded-resource"))
        additional = _compile_node(
            sub, f"{path}.additionalProperties", found, embedded, uncorrelatable
        )
    items = None
    is_map_list = schema.get("x-kubernetes-list-type") == "map"
    if isinstance(schema.get("items"), Mapping):
        sub = schema["items"]
        below = uncorrelatable if is_map_list or uncorrelatable else path
        embedded = bool(sub.get("x-kubernetes-embedded-resource"))
        items = _compile_node(sub, f"{path}.items", found, embedded, below)

    view = cel_type(schema, resource_root)
    rules = []
    entries = schema.get("x-kubernetes-validations") or []
    for i, entry in enumerate(entries):
        found.schema.extend(check_fields(entry, f"{path}.x-kubernetes-validations[{i}]", schema))
    # upstream compiles only when this node and those below have no field errors
    if len(found.schema) == first_cause and view is not None:
        for i, entry in enumerate(entries):
            entry_path = f"{path}.x-kubernetes-validations[{i}]"
            compiled, problems = compile_entry(entry, entry_path, schema, view, uncorrelatable)
            found.cel.extend(problems)
            if compiled is not None:
                rules.append(compiled)
    if not (rules or properties or additional or items):
        return None
    fields: set[str] | None = set()
    values_read: set[str] = set()  # fields some rule reads more of than their presence
    for rule in rules:
        if fields is not None:
            fields = None if rule.reads is None else fields | rule.reads
        for shape in (rule.shape, rule.message_shape):
            if shape is not None and shape.self_fields is not None:
                values_read |= shape.self_fields - shape.presence_only
    calls = set().union(*(rule.calls for rule in rules))
    return RuleNode(
        type_name=str(schema.get("type") or ""),
        view=view,
        rules=tuple(rules),
        properties=tuple(properties),
        additional=additional,
        items=items,
        list_map_keys=tuple(schema.get("x-kubernetes-list-map-keys") or ())
        if is_map_list
        else None,
        self_fields=None if fields is None else frozenset(fields),
        presence_fields=frozenset() if fields is None else frozenset(fields - values_read),
        functions=functions_for(calls),
    )
