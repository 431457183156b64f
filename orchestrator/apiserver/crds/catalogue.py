"""From the stored CustomResourceDefinitions to what the server serves.

Two pure steps, both run by the definition controller:

- ``accepted_names``: the naming decision. A CRD's names are accepted unless
  another CRD *of the same group* already holds one of them (plural,
  singular, a short name, kind, listKind); the first conflict found is the
  reason (``PluralConflict``...), with Kubernetes' message
  (``"crontabs" is already in use``). Kinds from different groups never
  conflict: a ``serving.knative.dev`` ``Service`` and the core one coexist.
- ``custom_types``: one ``ResourceType`` per served version of every
  Established CRD, named by its accepted names, preferred version first,
  each carrying the version's ``CustomStrategy``. Building a strategy
  compiles the version's CEL rules, so strategies are cached by the CRD's
  uid and generation: a status write does not recompile anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.api.objects import Obj
from orchestrator.api.openapi.cel import compile_rules
from orchestrator.api.resources import ResourceType
from orchestrator.api.strategy import ScalePaths
from orchestrator.api.validation_pods import as_dict, as_list
from orchestrator.api.versions import version_key
from orchestrator.apiserver.crds.definition import is_established
from orchestrator.apiserver.crds.strategy import CustomStrategy


@dataclass(frozen=True)
class NamesDecision:
    accepted: dict[str, Any]  # the acceptedNames to store
    reason: str = "NoConflicts"
    message: str = "no conflicts found"

    @property
    def ok(self) -> bool:
        return self.reason == "NoConflicts"


def _names(crd: Obj) -> dict[str, Any]:
    return as_dict(as_dict(crd.get("spec")).get("names"))


def _group(crd: Obj) -> str:
    return str(as_dict(crd.get("spec")).get("group", ""))


def accepted_names(crd: Obj, others: Iterable[Obj]) -> NamesDecision:
    """Which of ``crd``'s requested names it may have, given the other CRDs' accepted ones."""
    requested = _names(crd)
    group, name = _group(crd), crd["metadata"]["name"]
    taken_resources: set[str] = set()
    taken_kinds: set[str] = set()
    for other in others:
        if other["metadata"]["name"] == name or _group(other) != group:
            continue
        names = as_dict(as_dict(other.get("status")).get("acceptedNames"))
        taken_resources.update(str(n) for n in (names.get("plural"), names.get("singular")) if n)
        taken_resources.update(str(n) for n in as_list(names.get("shortNames")))
        taken_kinds.update(str(n) for n in (names.get("kind"), names.get("listKind")) if n)
    plural, singular = requested.get("plural"), requested.get("singular")
    kind, list_kind = requested.get("kind"), requested.get("listKind")
    checks = [
        ("PluralConflict", [plural], taken_resources),
        ("SingularConflict", [singular], taken_resources),
        ("ShortNamesConflict", list(as_list(requested.get("shortNames"))), taken_resources),
        ("KindConflict", [kind], taken_kinds),
        ("ListKindConflict", [list_kind], taken_kinds),
    ]
    for reason, values, taken in checks:
        for value in values:
            if value and value in taken:
                previous = as_dict(as_dict(crd.get("status")).get("acceptedNames"))
                return NamesDecision(previous, reason, f'"{value}" is already in use')
    accepted = {
        key: requested[key]
        for key in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
        if requested.get(key)
    }
    return NamesDecision(accepted)


@dataclass
class StrategyCache:
    """Strategies by (uid, generation, version): compiled once per spec."""

    entries: dict[tuple[str, int, str], CustomStrategy]

    def __init__(self) -> None:
        self.entries = {}

    def get(self, crd: Obj, version: dict[str, Any], storage: dict[str, Any]) -> CustomStrategy:
        meta = crd["metadata"]
        key = (str(meta.get("uid")), int(meta.get("generation") or 0), str(version["name"]))
        strategy = self.entries.get(key)
        if strategy is None:
            strategy = build_strategy(crd, version, storage)
            self.entries[key] = strategy
        return strategy

    def keep_only(self, crds: Iterable[Obj]) -> None:
        live = {
            (str(c["metadata"].get("uid")), int(c["metadata"].get("generation") or 0)) for c in crds
        }
        self.entries = {k: v for k, v in self.entries.items() if k[:2] in live}


def _schema(version: dict[str, Any]) -> dict[str, Any]:
    return as_dict(as_dict(version.get("schema")).get("openAPIV3Schema"))


def build_strategy(crd: Obj, version: dict[str, Any], storage: dict[str, Any]) -> CustomStrategy:
    spec = as_dict(crd.get("spec"))
    accepted = as_dict(as_dict(crd.get("status")).get("acceptedNames"))
    schema = _schema(version)
    rules, _ = compile_rules(schema, "")
    subresources = as_dict(version.get("subresources"))
    scale = None
    if isinstance(subresources.get("scale"), dict):
        s = subresources["scale"]
        scale = ScalePaths(
            spec_replicas=str(s.get("specReplicasPath", ".spec.replicas")),
            status_replicas=str(s.get("statusReplicasPath", ".status.replicas")),
            label_selector=str(s.get("labelSelectorPath") or ""),
            builtin=False,
        )
    selectable = frozenset(
        str(f.get("jsonPath", "")).lstrip(".")
        for f in as_list(version.get("selectableFields"))
        if isinstance(f, dict)
    )
    return CustomStrategy(
        group=str(spec.get("group")),
        version=str(version["name"]),
        kind=str(accepted.get("kind") or as_dict(spec.get("names")).get("kind")),
        storage_version=str(storage["name"]),
        schema=schema,
        storage_schema=_schema(storage),
        rules=rules,
        columns=tuple(
            c for c in as_list(version.get("additionalPrinterColumns")) if isinstance(c, dict)
        ),
        scale=scale,
        selectable=selectable,
    )


def _deprecation(
    group: str, kind: str, version: dict[str, Any], served: list[dict[str, Any]]
) -> str:
    if not version.get("deprecated"):
        return ""
    if version.get("deprecationWarning"):
        return str(version["deprecationWarning"])
    text = f"{group}/{version['name']} {kind} is deprecated"
    mine = version_key(str(version["name"]))
    better = [v for v in served if not v.get("deprecated") and version_key(str(v["name"])) < mine]
    if better:
        text += f"; use {group}/{better[0]['name']} {kind}"
    return text


def custom_types(crds: Iterable[Obj], cache: StrategyCache) -> list[ResourceType]:
    """The ResourceTypes of every Established CRD, preferred version of each first."""
    out: list[ResourceType] = []
    for crd in sorted(crds, key=lambda c: c["metadata"]["name"]):
        if not is_established(crd):
            continue
        spec = as_dict(crd.get("spec"))
        accepted = as_dict(as_dict(crd.get("status")).get("acceptedNames"))
        versions = [v for v in as_list(spec.get("versions")) if isinstance(v, dict)]
        storage = next((v for v in versions if v.get("storage") is True), None)
        served = sorted(
            (v for v in versions if v.get("served") is True),
            key=lambda v: version_key(str(v["name"])),
        )
        if storage is None or not accepted.get("plural"):
            continue
        group, kind = str(spec.get("group")), str(accepted.get("kind"))
        terminating = bool(crd["metadata"].get("deletionTimestamp"))
        for version in served:
            subresources = as_dict(version.get("subresources"))
            out.append(
                ResourceType(
                    group=group,
                    version=str(version["name"]),
                    kind=kind,
                    plural=str(accepted["plural"]),
                    namespaced=spec.get("scope") == "Namespaced",
                    short_names=tuple(str(n) for n in as_list(accepted.get("shortNames"))),
                    categories=tuple(str(n) for n in as_list(accepted.get("categories"))),
                    subresources=tuple(s for s in ("status", "scale") if s in subresources),
                    singular_name=str(accepted.get("singular") or ""),
                    list_kind_name=str(accepted.get("listKind") or ""),
                    storage_version=str(storage["name"]),
                    terminating=terminating,
                    deprecation_warning=_deprecation(group, kind, version, served),
                    strategy=cache.get(crd, version, storage),
                )
            )
    return out
