"""``authentication.k8s.io/v1`` TokenReview: is this token good, and whose is it?

A create-only kind, as in Kubernetes: ``POST .../tokenreviews`` with
``spec.token`` answers 201 with the same object and a ``status`` filled in
from the API server's own authenticator, and nothing is stored. Components
that take API tokens from people (the builder's ``git push`` with a token
as the password) ask here instead of keeping token lists of their own.

An unknown token is not an error: the answer says ``authenticated: false``
(with an ``error`` line), as Kubernetes answers a token no authenticator
knows. A body that is not a TokenReview is 400.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors
from orchestrator.apiserver.auth import TokenAuthenticator
from orchestrator.apiserver.serviceaccounts.tokens import review_token_user

API_VERSION = "authentication.k8s.io/v1"
KIND = "TokenReview"


def review_token(auth: TokenAuthenticator, body: Any) -> dict[str, Any]:
    """The TokenReview ``body`` with its status answered."""
    if not isinstance(body, dict) or body.get("kind", KIND) != KIND:
        raise errors.BadRequest(f"the body must be a {KIND} ({API_VERSION})")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    token = spec.get("token")
    if not isinstance(token, str):
        raise errors.BadRequest("spec.token must be a string")
    review: dict[str, Any] = {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {**(body.get("metadata") or {}), "creationTimestamp": None},
        "spec": spec,
    }
    wanted = [a for a in spec.get("audiences") or [] if isinstance(a, str)]
    user, audiences = review_token_user(auth, token, wanted) if token.strip() else (None, [])
    if user is None:
        review["status"] = {
            "authenticated": False,
            "user": {},
            "error": "the token is not valid (unknown, revoked or mistyped)",
        }
        return review
    status: dict[str, Any] = {"authenticated": True, "user": user.as_review()}
    if audiences:
        status["audiences"] = audiences
    review["status"] = status
    return review
