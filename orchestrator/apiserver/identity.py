"""Who a request comes from: the one shape every authenticator answers with.

Kubernetes' ``user.Info``: a name, a uid, groups and extra values. Token
files, ServiceAccount tokens and node tokens all authenticate to a
``UserInfo``; authorization (``authz/``), admission (``WriteOptions.user``
and ``groups``), TokenReview and SelfSubjectReview read it. Every
authenticated caller is also in ``system:authenticated``; the groups below
are Kubernetes' well-known ones (reference/access-control.md section 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
MASTERS = "system:masters"  # skips authorization, as Kubernetes' privileged group
NODES = "system:nodes"
NODE_PREFIX = "system:node:"
SERVICE_ACCOUNTS = "system:serviceaccounts"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ANONYMOUS_USER = "system:anonymous"


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def with_authenticated(self) -> UserInfo:
        """The same user, in ``system:authenticated`` as every authenticated caller is."""
        if AUTHENTICATED in self.groups:
            return self
        return UserInfo(self.name, self.uid, (*self.groups, AUTHENTICATED), self.extra)

    @property
    def is_master(self) -> bool:
        return MASTERS in self.groups

    def as_review(self) -> dict[str, object]:
        """As TokenReview's ``status.user`` and SelfSubjectReview's ``status.userInfo``."""
        out: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def node_name_of(user: UserInfo) -> str | None:
    """The node a user is, for the Node authorizer: ``system:node:<n>`` in ``system:nodes``."""
    if NODES in user.groups and user.name.startswith(NODE_PREFIX):
        return user.name[len(NODE_PREFIX) :] or None
    return None


def service_account_of(user: UserInfo) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount user ``system:serviceaccount:<ns>:<name>``."""
    if not user.name.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = user.name[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    return (namespace, name) if sep and namespace and name else None


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    return UserInfo(
        f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        uid,
        (SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}", AUTHENTICATED),
    )
