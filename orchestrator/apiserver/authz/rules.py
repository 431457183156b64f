"""Policy rules, compiled once, and whether one allows a request (Kubernetes' ``RuleAllows``).

A rule allows a resource request when its verbs, API groups, resources
(``pods`` for pods; ``pods/log`` or ``*/log`` for the log; ``*`` for all
and every subresource) and names (none listed = any name) all match; a
non-resource request when its verbs and URLs (``*``, a prefix ending in
``*``, or the exact path) match. A rule naming resourceNames never allows a
request without a name: creates, deletecollections and plain lists.

``covers`` answers the escalation check: does a set of rules grant
everything one rule grants? It splits the rule into single
(verb, group, resource, name) requests and asks each, as Kubernetes'
``Covers`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.apiserver.authz.attributes import Attributes


@dataclass(frozen=True, slots=True)
class Rule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    urls: tuple[str, ...]
    # as written, for SelfSubjectRulesReview and escalation messages (lists keep their order)
    source: Mapping[str, Any]


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def compile_rule(rule: Mapping[str, Any]) -> Rule:
    return Rule(
        verbs=frozenset(_strings(rule.get("verbs"))),
        api_groups=frozenset(_strings(rule.get("apiGroups"))),
        resources=frozenset(_strings(rule.get("resources"))),
        resource_names=frozenset(_strings(rule.get("resourceNames"))),
        urls=_strings(rule.get("nonResourceURLs")),
        source=rule,
    )


def compile_rules(rules: Any) -> tuple[Rule, ...]:
    if not isinstance(rules, list):
        return ()
    return tuple(compile_rule(r) for r in rules if isinstance(r, dict))


def url_matches(patterns: Iterable[str], path: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == path:
            return True
        if pattern.endswith("*") and path.startswith(pattern[:-1]):
            return True
    return False


def allows(rule: Rule, a: Attributes) -> bool:
    if "*" not in rule.verbs and a.verb not in rule.verbs:
        return False
    if not a.resource_request:
        return url_matches(rule.urls, a.path)
    if "*" not in rule.api_groups and a.api_group not in rule.api_groups:
        return False
    res = rule.resources
    if not (
        "*" in res or a.combined_resource in res or (a.subresource and f"*/{a.subresource}" in res)
    ):
        return False
    return not rule.resource_names or a.name in rule.resource_names


def _split(rule: Rule) -> Iterable[tuple[str, str, str, str]]:
    names: Sequence[str] = sorted(rule.resource_names) or [""]
    for verb in sorted(rule.verbs):
        for group in sorted(rule.api_groups):
            for resource in sorted(rule.resources):
                for name in names:
                    yield verb, group, resource, name


def _has(owned: Sequence[Rule], verb: str, group: str, resource: str, name: str) -> bool:
    for o in owned:
        if "*" not in o.verbs and verb not in o.verbs:
            continue
        if "*" not in o.api_groups and group not in o.api_groups:
            continue
        if not ("*" in o.resources or resource in o.resources or _sub_star(o, resource)):
            continue
        if o.resource_names and (not name or name not in o.resource_names):
            continue
        return True
    return False


def _sub_star(owned: Rule, resource: str) -> bool:
    _, slash, sub = resource.partition("/")
    return bool(slash) and f"*/{sub}" in owned.resources


def covers(owned: Sequence[Rule], rule: Rule) -> bool:
    """Whether ``owned`` grants at least all that ``rule`` grants."""
    if rule.urls:
        return all(
            any(("*" in o.verbs or verb in o.verbs) and _url_covers(o.urls, url) for o in owned)
            for verb in rule.verbs
            for url in rule.urls
        )
    return all(_has(owned, *parts) for parts in _split(rule))


def _url_covers(patterns: Iterable[str], url: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == url:
            return True
        if pattern.endswith("*") and url.startswith(pattern[:-1]):
            return True
    return False


def describe(rule: Mapping[str, Any]) -> str:
    """``{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}``, as escalation errors show it."""
    parts = []
    for field, label in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("resourceNames", "ResourceNames"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("verbs", "Verbs"),
    ):
        values = _strings(rule.get(field))
        if values:
            quoted = " ".join(f'"{v}"' for v in values)
            parts.append(f"{label}:[{quoted}]")
    return "{" + ", ".join(parts) + "}"
