"""Pod Security Admission: Kubernetes' privileged, baseline and restricted levels.

``policy`` reads levels and versions from namespace labels; ``baseline`` and
``restricted`` hold the checks, ``evaluator`` runs a level's checks in
Kubernetes' order; ``podspecs`` finds the pod in each kind; ``admission`` is
the plugin the API server puts in its admission chain.
"""

from orchestrator.apiserver.podsecurity.admission import PodSecurity, PodSecuritySettings

__all__ = ["PodSecurity", "PodSecuritySettings"]
