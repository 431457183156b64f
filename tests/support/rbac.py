"""Asking the API server what RBAC allows, as the tests of roles do: SubjectAccessReviews."""

from __future__ import annotations

from typing import Any

import httpx

GROUP = "rbac.authorization.k8s.io"


def allowed_by_review(http: httpx.Client, user: str, attributes: dict[str, Any]) -> bool:
    """Whether ``user`` (in ``system:authenticated``) may do what ``attributes`` say."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:authenticated"],
            "resourceAttributes": attributes,
        },
    }
    r = http.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    assert r.status_code == 201, r.text
    return bool(r.json()["status"]["allowed"])
