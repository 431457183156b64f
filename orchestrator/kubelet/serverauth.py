"""Who may use the node agent's HTTPS port with a bearer token (the kubelet's webhook mode).

The API server reaches the node with its client certificate (``server.py``);
anyone else (a Prometheus scraping ``/metrics``, an operator reading
``/stats/summary``) shows a bearer token. As the kubelet with
``--authentication-token-webhook`` and ``--authorization-mode=Webhook``,
the token is reviewed by the API server (TokenReview) and the request is
asked as a SubjectAccessReview on the Node, by path:

    /metrics, /metrics/*      nodes/metrics
    /stats, /stats/*          nodes/stats
    anything else             nodes/proxy

with the HTTP method's verb (GET: get, POST: create, PUT: update, PATCH:
patch, DELETE: delete). ``system:monitoring`` reads ``/metrics`` only
through the non-resource rule of the API server; on the node it needs
``nodes/metrics``, as in Kubernetes (``paas up`` binds a role for it).
"""

from __future__ import annotations

from orchestrator.metrics.delegated import Question

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def question_of(method: str, path: str, node: str) -> Question:
    """The SubjectAccessReview the kubelet asks for ``method path`` on ``node``."""
    if path == "/metrics" or path.startswith("/metrics/"):
        subresource = "metrics"
    elif path == "/stats" or path.startswith("/stats/"):
        subresource = "stats"
    else:
        subresource = "proxy"
    verb = _VERBS.get(method, "get")
    return Question(verb, resource="nodes", subresource=subresource, name=node)
