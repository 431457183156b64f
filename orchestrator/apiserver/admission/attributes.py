"""What one write asks for, as admission sees it (Kubernetes' ``admission.Attributes``).

The API server builds one ``Attributes`` per request and hands it to the
webhook dispatcher; matching reads it, the AdmissionReview is written from
it. Values are the *effective* ones, as Kubernetes sends them: a PATCH is an
UPDATE (or a CREATE when an apply creates), ``object`` is the object as it
will be stored (None on DELETE and CONNECT), ``old_object`` the stored one
(None on CREATE and CONNECT).

For a Namespace object Kubernetes reports the namespace's own name as the
request's namespace; ``effective_namespace`` does the same, so callers may
pass ``namespace=""`` for it like for any cluster-scoped object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE", "CONNECT")


@dataclass(frozen=True)
class UserInfo:
    """The authenticated caller, as ``authentication.k8s.io/v1`` ``UserInfo`` names it."""

    username: str = ""
    groups: tuple[str, ...] = ()
    uid: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The ``userInfo`` of an AdmissionReview request (empty fields left out, as Go does)."""
        out: dict[str, Any] = {"username": self.username}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        return out


@dataclass(frozen=True)
class Attributes:
    """One request under admission: the verb, what it is on, who asks, and the objects."""

    operation: Operation
    group: str  # "" for the core group
    version: str
    resource: str  # the plural: "pods", "crontabs"
    kind: str
    name: str  # "" for a create by generateName
    namespace: str  # "" for cluster-scoped objects
    namespaced: bool
    subresource: str = ""  # "status", "scale", ... or "" for the object itself
    dry_run: bool = False
    options: dict[str, Any] | None = None  # CreateOptions / UpdateOptions / DeleteOptions
    user: UserInfo = field(default_factory=UserInfo)
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None

    @property
    def is_namespace(self) -> bool:
        """True for a request on a Namespace object itself."""
        return self.group == "" and self.resource == "namespaces"

    @property
    def effective_namespace(self) -> str:
        """The request's namespace as Kubernetes reports it (a Namespace's own name for it)."""
        return self.name if self.is_namespace and not self.namespace else self.namespace
