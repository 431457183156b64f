"""Serving Prometheus metrics from components that have no API of their own.

``server.MetricsServer`` is the small HTTPS ``/metrics`` port of the
scheduler, the controller-manager, the DNS, the builder and the platform's
controllers (``--metrics-port``); ``delegated.DelegatedAuth`` decides who
may read it by asking the API server (TokenReview, SubjectAccessReview), as
kube-scheduler's secure port does; the node agent's own server uses it too.
What is exposed is the process's default registry of ``prometheus_client``,
where each package's ``metrics.py`` registers its metrics.
"""
