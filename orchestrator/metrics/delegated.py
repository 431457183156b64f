"""Delegated authentication and authorization: the API server decides who may scrape.

Kubernetes' components (kube-scheduler's secure port, the kubelet's webhook
mode) do not keep users of their own: a request's bearer token is sent to
the API server as a TokenReview, and what the user it names may do is asked
as a SubjectAccessReview (for ``/metrics``: a non-resource ``get`` on the
path; for the kubelet's routes: ``get`` on ``nodes/metrics`` and friends).
The component's own identity needs only ``create`` on both reviews
(``system:auth-delegator``).

Answers are cached per token and per (user, question) for
``DelegatedSettings`` seconds, as kube-scheduler's caches (10 s), so a
scraper every second costs the API two reviews every ten seconds. A review
that fails (the API server unreachable) is not cached and refuses the
request with 503 rather than letting anyone in.

``check`` returns ``None`` when the request may go on, else a ``Refusal``
(status and Kubernetes' message): 401 ``Unauthorized`` for no or a bad
token, 403 ``forbidden: User "u" cannot get path "/metrics"``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class DelegatedSettings:
    authn_ttl: float = 10.0  # kube-scheduler's --authentication-token-webhook-cache-ttl
    authz_allowed_ttl: float = 10.0  # its --authorization-webhook-cache-authorized-ttl
    authz_denied_ttl: float = 10.0  # its --authorization-webhook-cache-unauthorized-ttl
    max_entries: int = 1024  # cached answers kept, at most (a flood of bad tokens stays small)


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Question:
    """What the user asks: a non-resource ``path``, or a resource (Kubernetes' attributes)."""

    verb: str
    path: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    group: str = ""


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


class DelegatedAuth:
    """Asks the API server through ``client`` (module docstring)."""

    def __init__(self, client: APIClient, settings: DelegatedSettings | None = None) -> None:
        self.client = client
        self.settings = settings or DelegatedSettings()
        self._users: dict[str, tuple[float, User | None]] = {}
        self._decisions: dict[tuple[User, Question], tuple[float, bool, str]] = {}

    async def check(self, authorization: str | None, question: Question) -> Refusal | None:
        """None when the bearer of ``authorization`` may ask ``question``, else why not."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Refusal(401, "Unauthorized")
        try:
            user = await self.authenticate(token.strip())
            if user is None:
                return Refusal(401, "Unauthorized")
            allowed, reason = await self.authorize(user, question)
        except errors.APIError as exc:
            log.warning("delegated authentication failed: %s", exc)
            return Refusal(503, f"the API server could not be asked: {exc}")
        if allowed:
            return None
        return Refusal(403, forbidden_message(user.name, question, reason))

    async def authenticate(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._users.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        status = (await self.client.request("POST", TOKEN_REVIEWS, json_body=body)).json()
        status = status.get("status") or {}
        user: User | None = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            user = User(
                name=str(info.get("username", "")),
                uid=str(info.get("uid", "")),
                groups=tuple(info.get("groups") or ()),
                extra=tuple(sorted((k, tuple(v)) for k, v in (info.get("extra") or {}).items())),
            )
        _put(self._users, key, (now + self.settings.authn_ttl, user), self.settings.max_entries)
        return user

    async def authorize(self, user: User, question: Question) -> tuple[bool, str]:
        now = time.monotonic()
        cached = self._decisions.get((user, question))
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        spec: dict[str, Any] = {
            "user": user.name,
            "uid": user.uid,
            "groups": list(user.groups),
            "extra": {k: list(v) for k, v in user.extra},
        }
        if question.path:
            spec["nonResourceAttributes"] = {"path": question.path, "verb": question.verb}
        else:
            spec["resourceAttributes"] = {
                "verb": question.verb,
                "group": question.group,
                "version": "v1",
                "resource": question.resource,
                "subresource": question.subresource,
                "name": question.name,
            }
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        status = (await self.client.request("POST", ACCESS_REVIEWS, json_body=body)).json()
        status = status.get("status") or {}
        allowed = bool(status.get("allowed")) and not status.get("denied")
        reason = str(status.get("reason", ""))
        ttl = self.settings.authz_allowed_ttl if allowed else self.settings.authz_denied_ttl
        _put(
            self._decisions,
            (user, question),
            (now + ttl, allowed, reason),
            self.settings.max_entries,
        )
        return allowed, reason


def forbidden_message(user: str, question: Question, reason: str = "") -> str:
    """Kubernetes' words for a refusal: the API server's for a path, the kubelet's else."""
    if question.path:
        text = f'forbidden: User "{user}" cannot {question.verb} path "{question.path}"'
        return f"{text}: {reason}" if reason else text
    return (
        f"Forbidden (user={user}, verb={question.verb}, resource={question.resource}, "
        f"subresource={question.subresource})"
    )


def _put(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    if len(cache) >= limit:  # the oldest entry goes (dicts keep insertion order)
        cache.pop(next(iter(cache)))
    cache[key] = value
