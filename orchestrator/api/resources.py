"""The resource types the API serves, and how they appear in discovery.

A ``ResourceType`` says everything the server needs to route, store and
describe one kind in one version: its group/version, plural, scope, short
names and categories (which kubectl learns only from discovery), its
subresources and its behaviour (``strategy``: defaults, validation, columns).
Kinds are identified by (group, kind) everywhere, never by the bare kind.

``ResourceTypes`` is an immutable catalogue. The API server starts from
``BUILTIN_TYPES`` and replaces its catalogue as a whole whenever the set of
established CustomResourceDefinitions changes (``with_types``), so a request
sees one consistent catalogue from start to end. A custom kind served in
several versions has one ``ResourceType`` per version, all stored under the
same key prefix in the storage version; ``by_kind`` answers the preferred one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from orchestrator.api.versions import sort_versions

if TYPE_CHECKING:
    from orchestrator.api.strategy import KindStrategy

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str  # "" for core
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "binding", "log", "finalize"
    has_generation: bool = True
    extra_versions: tuple[str, ...] = ()  # served as aliases of the same storage (batch/v1beta1)
    verbs: tuple[str, ...] = ALL_VERBS
    singular_name: str = ""  # "" = the kind in lower case
    list_kind_name: str = ""  # "" = the kind + "List"
    # Custom kinds: the version objects are stored in, and whether their CRD is being deleted
    # (instances stay readable, updatable and deletable; creates are refused).
    storage_version: str = ""
    terminating: bool = False
    deprecation_warning: str = ""  # sent as a Warning with every request, when set
    # None = the built-in strategy of (group, kind); see strategy_of.
    strategy: KindStrategy | None = field(default=None, compare=False, repr=False)

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.list_kind_name or f"{self.kind}List"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` or ``pods``: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Deployment.apps`` or ``Pod``: how Invalid messages name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def storage_prefix(self, namespace: str = "") -> str:
        base = f"/registry/{self.group or 'core'}/{self.plural}/"
        return f"{base}{namespace}/" if self.namespaced and namespace else base

    def storage_key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix()}{namespace}/{name}"
        return f"{self.storage_prefix()}{name}"


@dataclass(frozen=True)
class ResourceTypes:
    types: tuple[ResourceType, ...]
    _by_path: dict[tuple[str, str, str], ResourceType] = field(init=False, repr=False)
    _by_kind: dict[tuple[str, str], ResourceType] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_path: dict[tuple[str, str, str], ResourceType] = {}
        by_kind: dict[tuple[str, str], ResourceType] = {}
        for rt in self.types:
            for version in (rt.version, *rt.extra_versions):
                by_path[(rt.group, version, rt.plural)] = rt
            by_kind.setdefault((rt.group, rt.kind), rt)  # the first is the preferred version
        object.__setattr__(self, "_by_path", by_path)
        object.__setattr__(self, "_by_kind", by_kind)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.types)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        return self._by_kind.get((group, kind))

    def by_group_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, kind))

    def require(self, group: str, kind: str) -> ResourceType:
        """The type of a kind the code relies on being served (KeyError if it is not)."""
        rt = self._by_kind.get((group, kind))
        if rt is None:
            raise KeyError(f"{kind}.{group or 'core'} is not a served kind")
        return rt

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first (core excluded).

        A group of custom kinds lists its versions in Kubernetes' priority order
        (v2 > v1 > v1beta1 ...), whichever CRD of the group brought each.
        """
        out: dict[str, list[str]] = {}
        custom: set[str] = set()
        for rt in self.types:
            if not rt.group:
                continue
            versions = out.setdefault(rt.group, [])
            if rt.storage_version:
                custom.add(rt.group)
            for version in (rt.version, *rt.extra_versions):
                if version not in versions:
                    versions.append(version)
        for group in custom:
            out[group] = sort_versions(out[group])
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [
            rt
            for rt in self.types
            if rt.group == group and version in (rt.version, *rt.extra_versions)
        ]

    def with_types(self, extra: Iterable[ResourceType]) -> ResourceTypes:
        return ResourceTypes((*self.types, *extra))

    def per_resource(self) -> list[ResourceType]:
        """One type per (group, plural): the preferred version, the others as its extra versions.

        What discovery gives a client (``client.discovery``): a loop that lists
        or watches every kind wants each resource once, not once per version
        (a HorizontalPodAutoscaler is served as autoscaling/v2 and v1).
        """
        first: dict[tuple[str, str], ResourceType] = {}
        extra: dict[tuple[str, str], list[str]] = {}
        for rt in self.types:
            key = (rt.group, rt.plural)
            if key not in first:
                first[key], extra[key] = rt, list(rt.extra_versions)
            elif rt.kind == first[key].kind and rt.version not in extra[key]:
                extra[key].append(rt.version)
        return [
            rt
            if tuple(extra[key]) == rt.extra_versions
            else replace(rt, extra_versions=tuple(extra[key]))
            for key, rt in first.items()
        ]

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        """Every served version of one resource, preferred first."""
        return [rt for rt in self.types if rt.group == group and rt.plural == plural]


def _rt(group: str, kind: str, plural: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(
        group=group, version="v1", kind=kind, plural=plural, namespaced=namespaced, **kw
    )


BUILTIN_TYPES = ResourceTypes(
    (
        _rt(
            "",
            "Namespace",
            "namespaces",
            False,
            short_names=("ns",),
            subresources=("status", "finalize"),
            has_generation=False,
        ),
        _rt(
            "",
            "Pod",
            "pods",
            short_names=("po",),
            categories=("all",),
            subresources=("status", "binding", "log", "exec", "attach", "portforward"),
            has_generation=False,
        ),
        _rt(
            "",
            "Service",
            "services",
            short_names=("svc",),
            categories=("all",),
            subresources=("status",),
            has_generation=False,
        ),
        _rt("", "Endpoints", "endpoints", short_names=("ep",), has_generation=False),
        _rt("", "ConfigMap", "configmaps", short_names=("cm",), has_generation=False),
        _rt("", "Secret", "secrets", has_generation=False),
        # ``token`` answers a TokenRequest (apiserver/serviceaccounts/tokenrequest.py).
        _rt(
            "",
            "ServiceAccount",
            "serviceaccounts",
            short_names=("sa",),
            subresources=("token",),
            has_generation=False,
        ),
        _rt(
            "",
            "Node",
            "nodes",
            False,
            short_names=("no",),
            subresources=("status", "proxy"),
            has_generation=False,
        ),
        _rt("", "Event", "events", short_names=("ev",), has_generation=False),
        _rt(
            "",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            short_names=("pvc",),
            subresources=("status",),
            has_generation=False,
        ),
        _rt(
            "apps",
            "Deployment",
            "deployments",
            short_names=("deploy",),
            categories=("all",),
            subresources=("status", "scale"),
        ),
        _rt(
            "apps",
            "ReplicaSet",
            "replicasets",
            short_names=("rs",),
            categories=("all",),
            subresources=("status", "scale"),
        ),
        # autoscaling/v2 is stored and preferred; v1 is a converted view of the same objects.
        *(
            ResourceType(
                group="autoscaling",
                version=version,
                kind="HorizontalPodAutoscaler",
                plural="horizontalpodautoscalers",
                namespaced=True,
                short_names=("hpa",),
                categories=("all",),
                subresources=("status",),
            )
            for version in ("v2", "v1")
        ),
        _rt("batch", "Job", "jobs", categories=("all",), subresources=("status",)),
        _rt(
            "batch",
            "CronJob",
            "cronjobs",
            short_names=("cj",),
            categories=("all",),
            subresources=("status",),
            extra_versions=("v1beta1",),
        ),
        # Create-only and never stored: binds the pod the body names (subresources.bind_pod).
        _rt("", "Binding", "bindings", has_generation=False, verbs=("create",)),
        _rt("coordination.k8s.io", "Lease", "leases", has_generation=False),
        # Create-only and never stored: the answer is computed from the token sent (tokenreview.py).
        _rt(
            "authentication.k8s.io",
            "TokenReview",
            "tokenreviews",
            False,
            has_generation=False,
            verbs=("create",),
        ),
        # Resource metrics: read-only, never stored; computed from what the node agents
        # measure (orchestrator/apiserver/resourcemetrics.py), as metrics-server serves them.
        *(
            ResourceType(
                group="metrics.k8s.io",
                version="v1beta1",
                kind=kind,
                plural=plural,
                namespaced=plural == "pods",
                has_generation=False,
                verbs=("get", "list"),
            )
            for kind, plural in (("NodeMetrics", "nodes"), ("PodMetrics", "pods"))
        ),
        # Authentication and authorization reviews: create-only, never stored; the answer is
        # computed from who asks (orchestrator/apiserver/authz/reviews.py).
        _rt(
            "authentication.k8s.io",
            "SelfSubjectReview",
            "selfsubjectreviews",
            False,
            has_generation=False,
            verbs=("create",),
            extra_versions=("v1beta1", "v1alpha1"),
        ),
        *(
            _rt(
                "authorization.k8s.io",
                kind,
                kind.lower() + "s",
                kind.startswith("Local"),
                has_generation=False,
                verbs=("create",),
            )
            for kind in (
                "SubjectAccessReview",
                "LocalSubjectAccessReview",
                "SelfSubjectAccessReview",
                "SelfSubjectRulesReview",
            )
        ),
        # RBAC: no short names, as in Kubernetes.
        _rt("rbac.authorization.k8s.io", "Role", "roles", has_generation=False),
        _rt("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", has_generation=False),
        _rt(
            "rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False, has_generation=False
        ),
        _rt(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
            False,
            has_generation=False,
        ),
        _rt(
            "networking.k8s.io",
            "Ingress",
            "ingresses",
            short_names=("ing",),
            subresources=("status",),
        ),
        _rt("networking.k8s.io", "IngressClass", "ingressclasses", False),
        _rt(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            subresources=("status",),
        ),
        _rt(
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            False,
            categories=("api-extensions",),
        ),
        _rt(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            False,
            categories=("api-extensions",),
        ),
    )
)
