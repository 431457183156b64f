"""One evaluation of a CRD version's compiled rules over an object.

The walk mirrors apiextensions' ``Validator.validate`` (v1.31): at each node
with rules, the value is converted once (``cel_values.to_cel``, limited to
the fields the node's rules read; a field they only test with ``has()`` is
bound to a stand-in, as the library's conversion of a value costs about a
microsecond per object in it) and bound in one library context shared by
the node's rules; then properties, map values and list items are visited with
their correlated old values. ``Run`` carries what one evaluation accumulates:
the causes, ratcheting warnings, and the remaining cost budget (see ``cel.py``
for how cost is estimated). Once the budget is gone no further rule runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from orchestrator.api.openapi.cel_compile import CompiledRule
from orchestrator.api.openapi.cel_values import CelType, to_cel
from orchestrator.api.validation_causes import DUPLICATE, FORBIDDEN, INVALID, REQUIRED, Cause

MAX_MESSAGE_BYTES = 5 * 1024  # MaxEvaluatedMessageExpressionSizeBytes
_OUT_OF_BUDGET = (
    "validation failed due to running out of cost budget, no further validation rules will be run"
)


@dataclass(frozen=True)
class RuleNode:
    """One schema node with rules at or below it."""

    type_name: str  # the schema's ``type``, shown as the failure's value
    view: CelType | None
    rules: tuple[CompiledRule, ...] = ()
    properties: tuple[tuple[str, RuleNode], ...] = ()
    additional: RuleNode | None = None
    items: RuleNode | None = None
    list_map_keys: tuple[str, ...] | None = None  # this node is a list-type map
    self_fields: frozenset[str] | None = None  # top-level fields the rules read
    presence_fields: frozenset[str] = frozenset()  # of those, the ones only tested by has()
    functions: Mapping[str, Any] = field(default_factory=dict, compare=False)


class _Stop(Exception):
    """The budget is spent: no further rule runs."""


def _child(path: str | None, name: str) -> str:
    return name if path is None else f"{path}.{name}"


def _key(path: str | None, key: Any) -> str:
    return f"{path or ''}[{key}]"


class Run:
    """The state of one ``CompiledRules.evaluate`` call."""

    def __init__(self, budget: int, per_call: int, warnings: list[str] | None) -> None:
        self.budget = budget
        self.per_call = per_call
        self.warnings = warnings
        self.causes: list[Cause] = []

    def validate(
        self, node: RuleNode, path: str | None, obj: Any, old: Any, unchanged: bool
    ) -> None:
        try:
            self._visit(node, path, obj, old, unchanged)
        except _Stop:
            pass

    def _visit(self, node: RuleNode, path: str | None, obj: Any, old: Any, unchanged: bool) -> None:
        if obj is None:
            return
        if node.rules and node.view is not None:
            self._run_rules(node, path, obj, old, unchanged)
        if isinstance(obj, dict):
            old_map = old if isinstance(old, dict) else {}
            if node.additional is not None:
                for key, value in obj.items():
                    prior = old_map.get(key)
                    same = prior is not None and prior == value
                    self._visit(node.additional, _key(path, key), value, prior, same)
            for name, sub in node.properties:
                if name in obj:
                    prior = old_map.get(name)
                    same = prior is not None and prior == obj[name]
                    self._visit(sub, _child(path, name), obj[name], prior, same)
        elif isinstance(obj, list) and node.items is not None:
            olds = self._correlate(node, old)
            for i, item in enumerate(obj):
                if node.list_map_keys is None:
                    # set and atomic lists: no oldSelf; errors ratchet with the list
                    self._visit(node.items, _key(path, i), item, None, unchanged)
                else:
                    prior = olds.get(_map_key(item, node.list_map_keys))
                    same = prior is not None and prior == item
                    self._visit(node.items, _key(path, i), item, prior, same)

    @staticmethod
    def _correlate(node: RuleNode, old: Any) -> dict[tuple[Any, ...], Any]:
        if node.list_map_keys is None or not isinstance(old, list):
            return {}
        return {_map_key(item, node.list_map_keys): item for item in old}

    def _run_rules(
        self, node: RuleNode, path: str | None, obj: Any, old: Any, unchanged: bool
    ) -> None:
        assert node.view is not None
        value, nodes = to_cel(obj, node.view, node.self_fields, node.presence_fields)
        old_value = None
        if old is not None and any(rule.uses_old_self for rule in node.rules):
            old_value, _ = to_cel(old, node.view, node.self_fields, node.presence_fields)
        contexts: dict[bool, cel.Context] = {}

        def context(optional: bool) -> cel.Context:
            if optional not in contexts:
                variables: dict[str, Any] = {"self": value}
                if optional:
                    wrapped = (
                        cel.OptionalValue.none()
                        if old_value is None
                        else cel.OptionalValue.of(old_value)
                    )
                    variables["oldSelf"] = wrapped
                elif old_value is not None:
                    variables["oldSelf"] = old_value
                contexts[optional] = cel.Context(variables, dict(node.functions))
            return contexts[optional]

        for rule in node.rules:
            if rule.uses_old_self and old is None and not rule.optional_old_self:
                continue  # a transition rule needs a correlated old value
            self._charge(rule, node, path, nodes)
            ctx = context(rule.optional_old_self and rule.uses_old_self)
            try:
                result = rule.program.execute(ctx)
            except Exception as exc:  # the library raises builtin types for CEL errors
                self.causes.append(
                    Cause(path or "<nil>", INVALID, _invalid(node, _eval_error(exc, rule)))
                )
                continue
            if result is True:
                continue
            if result is not False:
                detail = f"rule did not evaluate to a bool evaluating rule: {rule.error_name}"
                self.causes.append(Cause(path or "<nil>", INVALID, _invalid(node, detail)))
                continue
            detail = self._message(rule, context(False), node, path)
            where = path if rule.field_path is None else _child(path, rule.field_path)
            ratchet = unchanged and not rule.uses_old_self
            self._add(node, where, _failure(node, where, rule.reason, detail), ratchet)

    def _charge(self, rule: CompiledRule, node: RuleNode, path: str | None, nodes: int) -> None:
        cost = rule.shape.size * max(1, nodes) ** rule.shape.comprehension_depth
        field_name = path or "<nil>"
        if cost > self.per_call:
            detail = (
                "'operation cancelled: actual cost limit exceeded': no further validation rules "
                f"will be run due to call cost exceeds limit for rule: {rule.error_name}"
            )
            self.causes.append(Cause(field_name, INVALID, _invalid(node, detail)))
            raise _Stop
        if cost > self.budget:
            self.causes.append(Cause(field_name, INVALID, _invalid(node, _OUT_OF_BUDGET)))
            raise _Stop
        self.budget -= cost

    def _message(
        self, rule: CompiledRule, ctx: cel.Context, node: RuleNode, path: str | None
    ) -> str:
        """messageExpression's result if it gives a usable one, else message or the default."""
        if rule.message_program is None:
            return rule.default_message
        try:
            result = rule.message_program.execute(ctx)
        except Exception:
            return rule.default_message
        if not isinstance(result, str):
            return rule.default_message
        text = result.strip()
        if not text or "\n" in text or len(text.encode()) > MAX_MESSAGE_BYTES:
            return rule.default_message
        return text

    def _add(self, node: RuleNode, path: str | None, cause: Cause, ratchet: bool) -> None:
        if ratchet:
            if self.warnings is not None:
                self.warnings.append(f"{cause.field}: {cause.message}")
            return
        self.causes.append(cause)


def _map_key(item: Any, keys: tuple[str, ...]) -> tuple[Any, ...]:
    if not isinstance(item, dict):
        return (id(item),)
    return tuple(repr(item.get(key)) for key in keys)


def _invalid(node: RuleNode, detail: str) -> str:
    return f'Invalid value: "{node.type_name}": {detail}'


def _failure(node: RuleNode, field_path: str | None, reason: str, detail: str) -> Cause:
    where = field_path or "<nil>"
    if reason == FORBIDDEN:
        return Cause(where, FORBIDDEN, f"Forbidden: {detail}")
    if reason == REQUIRED:
        return Cause(where, REQUIRED, f"Required value: {detail}")
    if reason == DUPLICATE:
        return Cause(where, DUPLICATE, f'Duplicate value: "{node.type_name}"')
    return Cause(where, INVALID, _invalid(node, detail))


def _eval_error(exc: Exception, rule: CompiledRule) -> str:
    """The library's error in cel-go's words, as Kubernetes wraps them."""
    text = str(exc)
    if isinstance(exc, KeyError):
        text = f"no such key: {exc.args[0] if exc.args else ''}"
    elif isinstance(exc, ZeroDivisionError):
        text = "division by zero"
    elif isinstance(exc, OverflowError):
        text = "integer overflow"
    elif isinstance(exc, TypeError) and "no such overload" in text.lower():
        return (
            "'no such overload': call arguments did not match a supported operator, function "
            f"or macro signature for rule: {rule.error_name}"
        )
    elif text.startswith("Function '") and " error: " in text:
        text = text.split(" error: ", 1)[1].removesuffix(
            ". Check function arguments and their types."
        )
    return f"{text} evaluating rule: {rule.error_name}"
