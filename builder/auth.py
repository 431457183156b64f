"""Who is pushing: HTTP basic with an API token as the password, checked by TokenReview.

git sends no credentials until it gets a 401 carrying ``WWW-Authenticate:
Basic``; then it repeats the request with ``user:token`` and sends them
pre-emptively on the rest of the push. The user name is free (Heroku's
habit); the password is an API token, which the API server reviews
(``authentication.k8s.io/v1`` TokenReview), so the builder holds no token
list. A push is three or four requests: a positive answer is kept for a
few seconds (keyed by the token's hash) so that it costs one review. A
``Bearer`` header is accepted too, for ``paas builds logs``.

What the pusher may do is RBAC's, asked with a SubjectAccessReview
(``authorization.k8s.io/v1``) for the user and groups the review named:
a push creates a Build of the app (``create builds.paas.dev`` in its
namespace), a fetch and a build log read it (``get apps`` / ``get builds``),
so `edit` on a namespace lets a developer push there and `view` lets them
clone. Answers are kept as briefly as the token's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass

from orchestrator.client.rest import APIClient

REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Pusher:
    name: str  # the API user the token belongs to
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Access:
    """One right, as a SubjectAccessReview's resourceAttributes."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str = ""

    def refusal(self, pusher: Pusher) -> str:
        """Kubernetes' 403 words for this right."""
        named = f' "{self.name}"' if self.name else ""
        return (
            f'{self.resource}.{self.group}{named} is forbidden: User "{pusher.name}" cannot '
            f'{self.verb} resource "{self.resource}" in API group "{self.group}" in the '
            f'namespace "{self.namespace}"'
        )


def token_from_header(authorization: str) -> str:
    """The token in ``Basic base64(user:token)`` or ``Bearer token``; "" when none."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


class TokenReviewer:
    def __init__(self, client: APIClient, cache_seconds: float) -> None:
        self._client = client
        self._cache_seconds = cache_seconds
        self._known: dict[str, tuple[float, Pusher]] = {}
        self._allowed: dict[tuple[Pusher, Access], float] = {}

    async def authenticate(self, authorization: str) -> Pusher | None:
        """The pusher a request's ``Authorization`` header names, or None."""
        token = token_from_header(authorization)
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        # An unreachable API raises (the caller answers 503), never reads as a wrong token.
        answer = (await self._client.request("POST", REVIEWS, json_body=body)).json()
        status = answer.get("status") or {}
        if not status.get("authenticated"):
            return None
        user = status.get("user") or {}
        extra = user.get("extra") or {}
        pusher = Pusher(
            str(user.get("username") or "unknown"),
            str(user.get("uid") or ""),
            tuple(str(g) for g in user.get("groups") or ()),
            tuple((str(k), tuple(map(str, v or ()))) for k, v in sorted(extra.items())),
        )
        self._known = {k: v for k, v in self._known.items() if v[0] > now}
        self._known[key] = (now + self._cache_seconds, pusher)
        return pusher

    async def allows(self, pusher: Pusher, access: Access) -> tuple[bool, str]:
        """Whether RBAC lets ``pusher`` do ``access``, and the API server's reason."""
        now = time.monotonic()
        if self._allowed.get((pusher, access), 0.0) > now:
            return True, ""
        spec: dict[str, object] = {
            "resourceAttributes": {
                "verb": access.verb,
                "group": access.group,
                "resource": access.resource,
                "namespace": access.namespace,
                "name": access.name,
            },
            "user": pusher.name,
            "groups": list(pusher.groups),
        }
        if pusher.uid:
            spec["uid"] = pusher.uid
        if pusher.extra:
            spec["extra"] = {k: list(v) for k, v in pusher.extra}
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        answer = (await self._client.request("POST", ACCESS_REVIEWS, json_body=body)).json()
        status = answer.get("status") or {}
        if not status.get("allowed"):
            return False, str(status.get("reason") or "")
        self._allowed = {k: t for k, t in self._allowed.items() if t > now}
        self._allowed[(pusher, access)] = now + self._cache_seconds
        return True, ""
