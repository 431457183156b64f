"""Authorization: may this user do this? (Kubernetes' authorizer chain.)

``attributes.Attributes`` is what a request asks (verb, API group,
resource, subresource, namespace, name, or a non-resource path); each
authorizer answers ``Decision`` with a reason. The chain asks them in order
(Node, then RBAC); the first ALLOW or DENY wins, all NO_OPINION is a 403.
"""
