"""The ServiceAccount parts of one API server, made and run together.

``ServiceAccounts.start`` reads (or makes) the signing key and builds the
cache, the authenticator, the TokenRequest issuer, the admission plugin and
the controller of token Secrets; ``run`` keeps the cache and the controller
going until cancelled. ``server.py`` makes one and hands its
pieces to the app and the admission chain.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from orchestrator.api.resources import ResourceTypes
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.serviceaccounts import ServiceAccountSettings
from orchestrator.apiserver.serviceaccounts.admission import ServiceAccountAdmission
from orchestrator.apiserver.serviceaccounts.boundobjects import BoundObjects
from orchestrator.apiserver.serviceaccounts.legacytokens import LegacyTokenController
from orchestrator.apiserver.serviceaccounts.signing import Signer, ensure_key
from orchestrator.apiserver.serviceaccounts.tokenrequest import TokenIssuer
from orchestrator.apiserver.serviceaccounts.tokens import (
    ServiceAccountTokenAuthenticator,
    ServiceAccountTokens,
)
from orchestrator.apiserver.watchcache import WatchHub


class ServiceAccounts:
    def __init__(
        self,
        registry: Registry,
        hub: WatchHub,
        types: ResourceTypes,
        data_dir: Path,
        settings: ServiceAccountSettings,
        root_ca: Path | None,
    ) -> None:
        self.settings = settings
        self.signer = Signer(ensure_key(data_dir / settings.key_file))
        self.objects = BoundObjects(registry, hub, types)
        self.tokens = ServiceAccountTokens(self.signer, self.objects, settings)
        self.issuer = TokenIssuer(registry, types, self.signer, self.objects, settings)
        self.admission = ServiceAccountAdmission(registry, types, self.objects, root_ca)
        self.legacy_tokens = LegacyTokenController(
            registry, hub, types, self.signer, root_ca, self.objects.remember
        )

    def authenticator(self, tokens_file: Path | None) -> ServiceAccountTokenAuthenticator:
        return ServiceAccountTokenAuthenticator(tokens_file, self.tokens)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.objects.run(), name="bound objects")
            tg.create_task(self.legacy_tokens.run(), name="legacy token Secrets")

    def openid_configuration(self, server_url: str) -> dict[str, Any]:
        """``/.well-known/openid-configuration``, as Kubernetes serves it."""
        return {
            "issuer": self.settings.issuer,
            "jwks_uri": f"{server_url}/openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }
