"""The RBAC authorizer, answered from an in-memory index of roles and bindings.

``PolicyIndex`` holds every Role, ClusterRole, RoleBinding and
ClusterRoleBinding, with the rules compiled and the bindings filed under
the subjects they name (a user name, a group name; a ServiceAccount under
its user name ``system:serviceaccount:<ns>:<name>``). ``RBACAuthorizer``
follows the four kinds through the watch hub, so a binding written on any
API server of the cluster applies here within a watch round trip, and a
request costs a few dictionary lookups and rule matches, never a store
read.

Evaluation is Kubernetes' (``plugin/pkg/auth/authorizer/rbac``): a request
in namespace N is allowed by a ClusterRoleBinding, or by a RoleBinding in N
(of a Role in N or of a ClusterRole, scoped to N); a cluster-scoped or URL
request only by ClusterRoleBindings. RBAC only allows; with nothing
matching it has no opinion. A binding to a role that does not exist is
legal and grants nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceTypes
from orchestrator.apiserver.authz.attributes import Attributes, Decision
from orchestrator.apiserver.authz.rules import Rule, allows, compile_rules
from orchestrator.apiserver.identity import SERVICE_ACCOUNT_PREFIX, UserInfo
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.watchcache import Change, WatchHub
from orchestrator.store.base import StoreError

log = logging.getLogger(__name__)

GROUP = "rbac.authorization.k8s.io"
KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
PREFIX = f"/registry/{GROUP}/"


@dataclass(frozen=True, slots=True)
class Grant:
    """One subject of one binding: what a matching rule is reported as."""

    binding_kind: str  # RoleBinding | ClusterRoleBinding
    binding_name: str
    namespace: str  # the RoleBinding's; "" for a ClusterRoleBinding
    role_kind: str
    role_name: str
    subject: str  # 'Group "g"', as the reason says it

    def describe(self) -> str:
        name = f"{self.binding_name}/{self.namespace}" if self.namespace else self.binding_name
        return (
            f'{self.binding_kind} "{name}" of {self.role_kind} "{self.role_name}" to {self.subject}'
        )


def _subject_keys(subject: dict[str, Any], namespace: str) -> tuple[str, str] | None:
    """("u", name) or ("g", name) the subject is filed under; None when it names nobody."""
    kind, name = subject.get("kind"), subject.get("name")
    if not isinstance(name, str) or not name:
        return None
    if kind == "User":
        return ("u", name)
    if kind == "Group":
        return ("g", name)
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or namespace
        return ("u", f"{SERVICE_ACCOUNT_PREFIX}{ns}:{name}") if ns else None
    return None


def _describe_subject(subject: dict[str, Any], namespace: str) -> str:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        return f'ServiceAccount "{name}/{subject.get("namespace") or namespace}"'
    return f'{kind} "{name}"'


class PolicyIndex:
    """Roles and bindings by what a request looks them up by."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}  # storage key -> object
        self._roles: dict[tuple[str, str], tuple[Rule, ...]] = {}  # (ns, name); ns "" = cluster
        # (ns, "u"|"g", name) -> grants; ns "" = ClusterRoleBindings
        self._grants: dict[tuple[str, str, str], list[Grant]] = defaultdict(list)
        self._binding_keys: dict[str, list[tuple[str, str, str]]] = {}
        self.generation = 0  # bumped on every change (caches keyed on it stay valid until then)

    def apply(self, key: str, event: str, obj: Obj | None) -> None:
        self.generation += 1
        kind = _kind_of_key(key)
        if kind is None:
            return
        if event == "DELETE" or obj is None:
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        namespace, name = _names_of_key(key, kind)
        if kind in ("Role", "ClusterRole"):
            role_key = (namespace, name)
            if event == "DELETE" or obj is None:
                self._roles.pop(role_key, None)
            else:
                self._roles[role_key] = compile_rules(obj.get("rules"))
            return
        for old in self._binding_keys.pop(key, []):
            grants = self._grants.get(old)
            if grants is not None:
                grants[:] = [g for g in grants if not _same(g, kind, name, namespace)]
                if not grants:
                    del self._grants[old]
        if event == "DELETE" or obj is None:
            return
        ref = obj.get("roleRef") or {}
        role_kind = str(ref.get("kind", ""))
        keys = []
        for subject in obj.get("subjects") or []:
            if not isinstance(subject, dict):
                continue
            found = _subject_keys(subject, namespace)
            if found is None:
                continue
            index_key = (namespace, *found)
            grant = Grant(
                kind,
                name,
                namespace,
                role_kind,
                str(ref.get("name", "")),
                _describe_subject(subject, namespace),
            )
            self._grants[index_key].append(grant)
            keys.append(index_key)
        self._binding_keys[key] = keys

    def grants_for(self, user: UserInfo, namespace: str) -> Iterator[Grant]:
        """Every grant naming the user or one of its groups: cluster-wide, then in ``namespace``."""
        scopes = ("", namespace) if namespace else ("",)
        for scope in scopes:
            yield from self._grants.get((scope, "u", user.name), ())
            for group in user.groups:
                yield from self._grants.get((scope, "g", group), ())

    def rules_of(self, grant: Grant) -> tuple[Rule, ...] | None:
        """The rules the grant's role holds; None when the role does not exist."""
        if grant.role_kind == "ClusterRole":
            return self._roles.get(("", grant.role_name))
        if grant.role_kind == "Role" and grant.namespace:
            return self._roles.get((grant.namespace, grant.role_name))
        return None

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """All rules the user holds in ``namespace`` ("" = cluster-wide), and resolution errors."""
        rules: list[Rule] = []
        missing: list[str] = []
        for grant in self.grants_for(user, namespace):
            found = self.rules_of(grant)
            if found is None:
                missing.append(f'{grant.role_kind.lower()} "{grant.role_name}" not found')
                continue
            rules.extend(found)
        return rules, missing

    def cluster_roles(self) -> Iterator[Obj]:
        for key, obj in self.objects.items():
            if key.startswith(f"{PREFIX}clusterroles/"):
                yield obj


def _same(grant: Grant, kind: str, name: str, namespace: str) -> bool:
    return (
        grant.binding_kind == kind and grant.binding_name == name and grant.namespace == namespace
    )


_PLURALS = {
    "roles": "Role",
    "clusterroles": "ClusterRole",
    "rolebindings": "RoleBinding",
    "clusterrolebindings": "ClusterRoleBinding",
}


def _kind_of_key(key: str) -> str | None:
    plural = key[len(PREFIX) :].split("/", 1)[0] if key.startswith(PREFIX) else ""
    return _PLURALS.get(plural)


def _names_of_key(key: str, kind: str) -> tuple[str, str]:
    rest = key[len(PREFIX) :].split("/")[1:]
    if kind in ("Role", "RoleBinding"):
        return rest[0], rest[1]
    return "", rest[0]


class RBACAuthorizer:
    """``Authorizer`` over a ``PolicyIndex`` kept current by a watch."""

    # Decisions remembered until the policy changes: a client repeating one kind of request
    # (a controller's creates, a watch re-opened) is answered by one dictionary lookup.
    CACHE_SIZE = 8192  # entries; cleared whole when full (distinct names of gets fill it)

    def __init__(self, index: PolicyIndex | None = None) -> None:
        self.index = index or PolicyIndex()
        self.loaded = asyncio.Event()
        self._cache: dict[tuple[object, ...], tuple[Decision, str]] = {}
        self._cache_generation = -1

    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        index = self.index
        a, user = attributes, attributes.user
        key: tuple[object, ...] = (user.name, user.groups, a.verb, a.api_group, a.resource)
        key += (a.subresource, a.namespace, a.name) if a.resource_request else (a.path,)
        if self._cache_generation != index.generation or len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
            self._cache_generation = index.generation
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._decide(attributes)
        return found

    def _decide(self, attributes: Attributes) -> tuple[Decision, str]:
        index = self.index
        namespace = attributes.namespace if attributes.resource_request else ""
        missing: list[str] = []
        for grant in index.grants_for(attributes.user, namespace):
            rules = index.rules_of(grant)
            if rules is None:
                missing.append(f'{grant.role_kind.lower()} "{grant.role_name}" not found')
                continue
            for rule in rules:
                if allows(rule, attributes):
                    return Decision.ALLOW, f"RBAC: allowed by {grant.describe()}"
        return Decision.NO_OPINION, f"RBAC: [{', '.join(missing)}]" if missing else ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """What SelfSubjectRulesReview lists: cluster-wide rules, then those of ``namespace``."""
        return self.index.rules_for(user, namespace)

    async def load(self, registry: Registry, types: ResourceTypes) -> int:
        """Read the four kinds whole; returns the revision to follow changes from."""
        index = PolicyIndex()
        revision = 0
        for kind in KINDS:
            rt = types.require(GROUP, kind)
            items, rev, _ = await registry.list(rt, "")
            for item in items:
                meta = item["metadata"]
                index.apply(rt.storage_key(meta.get("namespace", ""), meta["name"]), "PUT", item)
            revision = max(revision, rev)
        self.index = index
        self._cache_generation = -1  # a new index counts its generations from 0 again
        self.loaded.set()
        return revision

    async def run(
        self, registry: Registry, hub: WatchHub, types: ResourceTypes, revision: int = -1
    ) -> None:
        """Follow the four kinds until cancelled (from ``revision`` if ``load`` was called
        already); a broken watch re-reads them whole."""
        if revision < 0:
            revision = await self.load(registry, types)
        while True:
            try:
                async for change in hub.changes(PREFIX, revision):
                    if isinstance(change, Change):
                        revision = change.revision
                        self.index.apply(change.key, change.type, change.obj)
            except asyncio.CancelledError:
                raise
            except Exception:  # dropped or compacted: read everything again
                log.info("RBAC policy re-read after a broken watch")
                while True:
                    try:
                        revision = await self.load(registry, types)
                        break
                    except (errors.APIError, StoreError, OSError):
                        log.warning("cannot read the RBAC policy; retrying", exc_info=True)
                        await asyncio.sleep(0.5)
