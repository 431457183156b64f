"""ServiceAccount tokens: issued by TokenRequest, checked on every use.

Kubernetes' bound service account tokens (reference/access-control.md
section 5), in four parts:

- ``signing``: the cluster's signing key (ES256, ``sa.key`` in the data dir,
  0600 from its first byte, made at first start) and compact JWS.
- ``tokenrequest``: ``POST .../serviceaccounts/NAME/token``: the checks, the
  claims, the 3607 s one-year extension for pod tokens.
- ``boundobjects`` + ``tokens``: the authenticator. A token is good while its
  signature, ``exp``/``nbf`` and audience hold and the ServiceAccount and the
  object it is bound to still exist with the uids it names; existence comes
  from a cache the watch hub keeps, never a store read per request.
- ``admission``: the ServiceAccount admission plugin on Pod create.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kubernetes' default --service-account-issuer for kubeadm clusters; also the API audience.
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class ServiceAccountSettings:
    issuer: str = DEFAULT_ISSUER  # ``iss`` of every token
    # Audiences the API server accepts (``--api-audiences``; Kubernetes defaults it to the issuer)
    api_audiences: tuple[str, ...] = (DEFAULT_ISSUER,)
    key_file: str = "sa.key"  # in the data dir; made at first start
    default_expiration: int = 3600  # a TokenRequest without expirationSeconds (Kubernetes)
    min_expiration: int = 600  # shorter requests are refused (Kubernetes' validation)
    # 0: no cap (Kubernetes' default for --service-account-max-token-expiration)
    max_expiration: int = 0
    # --service-account-extend-token-expiration: pod tokens asked for 3607 s live a year, so
    # clients that cache a token (python#1768, kopf#926) keep working; warnafter says when stale.
    extend_expiration: bool = True
    # A bound pod being deleted keeps its tokens this long (Kubernetes' 60 s), for its shutdown.
    deleted_pod_grace: float = 60.0


WARN_ONLY_EXPIRATION = 3607  # the kubelet's request: 1 h + 7 s marks "extend me"
EXTENDED_EXPIRATION = 365 * 24 * 3600
