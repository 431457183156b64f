"""Acting as another user: ``kubectl --as bob --as-group team-a`` (Kubernetes' impersonation).

A request may carry ``Impersonate-User``, ``Impersonate-Group`` (repeated),
``Impersonate-Uid`` and ``Impersonate-Extra-<key>`` headers. Each value
needs the ``impersonate`` verb, asked of the authorizer as the caller, on
what it names:

- a user: core ``users`` named after it, or for ``system:serviceaccount:<ns>:<n>``
  core ``serviceaccounts`` ``<n>`` in namespace ``<ns>``;
- a group: core ``groups``; a uid: ``authentication.k8s.io`` ``uids``;
- an extra value: ``authentication.k8s.io`` ``userextras/<key>`` named by the value.

The first refusal answers 403 in the authorizer's words (``users "bob" is
forbidden: User "alice" cannot impersonate resource "users" in API group ""
at the cluster scope``). Allowed, the request goes on as the impersonated
user, who is authenticated as Kubernetes makes it: in
``system:authenticated`` unless ``system:unauthenticated`` was asked (or
the user is ``system:anonymous``), a service account in its groups. Groups,
uid or extras without a user are a 400, as in Kubernetes. ``system:masters``
may impersonate anybody, as it may do anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from urllib.parse import unquote

from orchestrator.api import errors
from orchestrator.apiserver.authz.attributes import Attributes
from orchestrator.apiserver.authz.chain import AuthorizerChain
from orchestrator.apiserver.identity import (
    ANONYMOUS_USER,
    AUTHENTICATED,
    SERVICE_ACCOUNTS,
    UNAUTHENTICATED,
    UserInfo,
    service_account_of,
)

_PREFIX = b"impersonate-"
_EXTRA = "impersonate-extra-"


def acting_as(
    authorizer: AuthorizerChain | None, user: UserInfo, headers: Iterable[tuple[bytes, bytes]]
) -> UserInfo:
    """``user``, or whom its impersonation headers name once each is allowed."""
    asked = [(k.lower().decode("latin-1"), v.decode("latin-1")) for k, v in headers if _asks(k)]
    if not asked:
        return user
    name, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    checks: list[Attributes] = []
    for header, value in asked:
        if header == "impersonate-user":
            name = value
            account = service_account_of(UserInfo(value))
            if account is not None:
                checks.append(_check(user, "serviceaccounts", account[1], namespace=account[0]))
            else:
                checks.append(_check(user, "users", value))
        elif header == "impersonate-group":
            groups.append(value)
            checks.append(_check(user, "groups", value))
        elif header == "impersonate-uid":
            uid = value
            checks.append(_check(user, "uids", value, group="authentication.k8s.io"))
        elif header.startswith(_EXTRA):
            key = unquote(header[len(_EXTRA) :])
            extra.setdefault(key, []).append(value)
            checks.append(_check(user, "userextras", value, group="authentication.k8s.io", sub=key))
    if not name:
        what = ", ".join(sorted({h for h, _ in asked}))
        raise errors.BadRequest(f"requested {what} without impersonating a user")
    if authorizer is not None:
        for attributes in checks:
            authorizer.check(attributes)
    return UserInfo(
        name,
        uid,
        _groups_of(name, groups),
        MappingProxyType({k: tuple(v) for k, v in extra.items()}),
    )


def _asks(header: bytes) -> bool:
    return header[: len(_PREFIX)].lower() == _PREFIX


def _check(
    user: UserInfo, resource: str, name: str, *, namespace: str = "", group: str = "", sub: str = ""
) -> Attributes:
    return Attributes(
        user,
        "impersonate",
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=sub,
        namespace=namespace,
        name=name,
    )


def _groups_of(name: str, asked: list[str]) -> tuple[str, ...]:
    groups = list(asked)
    account = service_account_of(UserInfo(name))
    if account is not None:
        groups += [SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{account[0]}"]
    if name == ANONYMOUS_USER:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return tuple(dict.fromkeys(groups))  # once each, in the order asked
