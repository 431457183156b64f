"""The bound-token authenticator: a JWT of ours -> the ServiceAccount's ``UserInfo``.

Checked on every use, as Kubernetes' ``serviceaccount`` authenticator does:
the signature (``signing``), ``iss``, ``nbf``/``exp`` (with a minute of
leeway for clocks), an audience the caller accepts (the API server's own by
default), and that the ServiceAccount and the object the token is bound to
(pod, secret or node) still exist with the uids in the token and are not
being deleted (a pod: not for more than ``deleted_pod_grace``). Existence
comes from ``BoundObjects``, in memory.

Tokens of ``kubernetes.io/service-account-token`` Secrets (no expiry, no
audience) are checked against their Secret instead (``legacytokens``).

The user is ``system:serviceaccount:<ns>:<name>`` with the SA's uid, in
``system:serviceaccounts`` and ``system:serviceaccounts:<ns>``, and extras
naming the pod, node and token id (``credential-id`` = ``JTI=<jti>``).

``ServiceAccountTokenAuthenticator`` is the static-token authenticator with
this one behind it: a bearer token the token file does not know and that
looks like a JWT is asked here. Any failure is just "not authenticated"
(401), never a 500, and the reason goes to the log, not to the caller.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from orchestrator.apiserver.auth import TokenAuthenticator
from orchestrator.apiserver.identity import UserInfo, service_account_user
from orchestrator.apiserver.serviceaccounts import ServiceAccountSettings, legacytokens
from orchestrator.apiserver.serviceaccounts.boundobjects import BoundObjects
from orchestrator.apiserver.serviceaccounts.signing import Signer

log = logging.getLogger(__name__)

LEEWAY = 60  # seconds of clock skew tolerated on nbf/exp (Kubernetes' jwt leeway)
EXTRA = "authentication.kubernetes.io/"
BOUND_KINDS = ("pod", "secret", "node")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class TokenInvalid(Exception):
    """Why a token of ours is refused (logged, never shown: it may help an attacker)."""


class ServiceAccountTokens:
    def __init__(
        self,
        signer: Signer,
        objects: BoundObjects,
        settings: ServiceAccountSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.objects = objects
        self.settings = settings
        self.clock = clock

    def authenticate(
        self, token: str, audiences: Sequence[str] = ()
    ) -> tuple[UserInfo, list[str]] | None:
        """The user and the audiences matched (``audiences`` default: the API server's)."""
        try:
            return self.check(token, audiences)
        except TokenInvalid as exc:
            log.info("service account token refused: %s", exc)
            return None

    def check(self, token: str, audiences: Sequence[str] = ()) -> tuple[UserInfo, list[str]]:
        claims = self.signer.verify(token)
        if claims is None:
            raise TokenInvalid("not signed by this cluster's key")
        if claims.get("iss") == legacytokens.ISSUER:
            return self._check_legacy(token, claims, audiences)
        if claims.get("iss") != self.settings.issuer:
            raise TokenInvalid(f"issuer {claims.get('iss')!r} is not ours")
        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, int) or now > exp + LEEWAY:
            raise TokenInvalid("token has expired")
        if isinstance(nbf, int) and now < nbf - LEEWAY:
            raise TokenInvalid("token is not valid yet")
        aud = claims.get("aud")
        token_auds = [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]
        wanted = list(audiences) or list(self.settings.api_audiences)
        matched = [a for a in wanted if a in token_auds]
        if not matched:
            raise TokenInvalid("token audiences are not accepted here")
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            raise TokenInvalid("no kubernetes.io claims")
        namespace = str(private.get("namespace") or "")
        account = _ref(private, "serviceaccount")
        if not namespace or account is None:
            raise TokenInvalid("no service account named")
        self._check_exists("ServiceAccount", namespace, account, now)
        extra: dict[str, tuple[str, ...]] = {}
        for kind in BOUND_KINDS:
            ref = _ref(private, kind)
            if ref is None:
                continue
            if kind != "node" or "pod" not in private:  # a pod binding names its node too
                self._check_exists(kind.capitalize(), "" if kind == "node" else namespace, ref, now)
            extra[f"{EXTRA}{kind}-name"] = (ref[0],)
            if ref[1]:
                extra[f"{EXTRA}{kind}-uid"] = (ref[1],)
        if isinstance(claims.get("jti"), str):
            extra[f"{EXTRA}credential-id"] = (f"JTI={claims['jti']}",)
        user = service_account_user(namespace, account[0], account[1])
        return UserInfo(user.name, user.uid, user.groups, MappingProxyType(extra)), matched

    def _check_legacy(
        self, token: str, claims: dict[str, Any], audiences: Sequence[str]
    ) -> tuple[UserInfo, list[str]]:
        """A token of a ``kubernetes.io/service-account-token`` Secret (legacytokens.py).

        It carries no audience: it is good for the API server's own (Kubernetes wraps the
        legacy authenticator the same way), while its Secret holds exactly this token and
        its ServiceAccount exists with the uid it names.
        """
        wanted = list(audiences) or list(self.settings.api_audiences)
        matched = [a for a in wanted if a in self.settings.api_audiences]
        if not matched:
            raise TokenInvalid("a Secret's token is good for the API server's audiences only")
        namespace = legacytokens.claimed(claims, "namespace")
        secret = legacytokens.claimed(claims, "secret.name")
        account = legacytokens.claimed(claims, "service-account.name")
        account_uid = legacytokens.claimed(claims, "service-account.uid")
        if not (namespace and secret and account):
            raise TokenInvalid("a Secret's token without namespace, Secret or account")
        held = self.objects.get("Secret", namespace, secret)
        if held is None or held.deleting_since:
            raise TokenInvalid(f'Secret "{namespace}/{secret}" no longer exists')
        if held.token_sha256 != hashlib.sha256(token.encode()).hexdigest():
            raise TokenInvalid(f'Secret "{namespace}/{secret}" no longer holds this token')
        self._check_exists("ServiceAccount", namespace, (account, account_uid), self.clock())
        user = service_account_user(namespace, account, account_uid)
        extra = {f"{EXTRA}credential-id": (f"secret={namespace}/{secret}",)}
        return UserInfo(user.name, user.uid, user.groups, MappingProxyType(extra)), matched

    def _check_exists(self, kind: str, namespace: str, ref: tuple[str, str], now: float) -> None:
        name, uid = ref
        known = self.objects.get(kind, namespace, name)
        if known is None:
            raise TokenInvalid(f'{kind} "{namespace}/{name}" no longer exists')
        if uid and known.uid != uid:
            raise TokenInvalid(f'{kind} "{namespace}/{name}" was replaced (uid {known.uid})')
        if known.deleting_since:
            grace = self.settings.deleted_pod_grace if kind == "Pod" else 0.0
            if _parse_time(known.deleting_since) + timedelta(
                seconds=grace
            ) < datetime.fromtimestamp(now, UTC):
                raise TokenInvalid(f'{kind} "{namespace}/{name}" is being deleted')


def _ref(private: dict[str, Any], key: str) -> tuple[str, str] | None:
    value = private.get(key)
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    return value["name"], str(value.get("uid") or "")


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


class ServiceAccountTokenAuthenticator(TokenAuthenticator):
    """The token file first; a JWT it does not know goes to the ServiceAccount tokens."""

    def __init__(self, path: Path | None, service_accounts: ServiceAccountTokens) -> None:
        super().__init__(path)
        self.service_accounts = service_accounts

    def authenticate_token(self, token: str) -> UserInfo | None:
        user = super().authenticate_token(token)
        if user is None and looks_like_jwt(token):
            found = self.service_accounts.authenticate(token)
            user = found[0] if found else None
        return user


def review_token_user(
    auth: TokenAuthenticator, token: str, audiences: Sequence[str]
) -> tuple[UserInfo | None, list[str]]:
    """For TokenReview: the user and ``status.audiences`` (the intersection, for our JWTs).

    Static tokens carry no audience: they answer with the audiences asked for, as before.
    """
    if isinstance(auth, ServiceAccountTokenAuthenticator) and looks_like_jwt(token):
        user = TokenAuthenticator.authenticate_token(auth, token)
        if user is None:
            found = auth.service_accounts.authenticate(token, audiences)
            if found is not None:
                return found
            return None, []
        return user, list(audiences)
    return auth.authenticate(f"Bearer {token}"), list(audiences)
