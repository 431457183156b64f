"""Who is pushing: HTTP basic with an API token as the password, checked by TokenReview.

git sends no credentials until it gets a 401 carrying ``WWW-Authenticate:
Basic``; then it repeats the request with ``user:token`` and sends them
pre-emptively on the rest of the push. The user name is free (Heroku's
habit); the password is an API token, which the API server reviews
(``authentication.k8s.io/v1`` TokenReview), so the builder holds no token
list. A push is three or four requests: a positive answer is kept for a
few seconds (keyed by the token's hash) so that it costs one review. A
``Bearer`` header is accepted too, for ``paas builds logs``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass

from orchestrator.client.rest import APIClient

REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass(frozen=True)
class Pusher:
    name: str  # the API user the token belongs to


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
        pusher = Pusher(str((status.get("user") or {}).get("username") or "unknown"))
        self._known = {k: v for k, v in self._known.items() if v[0] > now}
        self._known[key] = (now + self._cache_seconds, pusher)
        return pusher
