"""What a request asks to do, as every authorizer sees it (Kubernetes' ``authorizer.Attributes``).

Resource requests carry verb, API group and version, resource, subresource,
namespace and name; non-resource requests (``/metrics``, ``/healthz``)
carry the path and the lowercase HTTP method as verb. Verbs that no URL
produces (``bind``, ``escalate``, ``impersonate``) are asked by the code
that needs them, with the same shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from orchestrator.apiserver.identity import UserInfo


@dataclass(frozen=True, slots=True)
class Attributes:
    user: UserInfo
    verb: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource requests only

    @property
    def combined_resource(self) -> str:
        """``pods/log``: what rules name, and what a 403 says."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """The decision and its reason ("" when there is nothing to say).

        Synchronous on purpose: authorizers answer from caches kept current by
        watches, so the hot path of every request awaits nothing.
        """
        ...
