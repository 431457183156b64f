"""Authorizing exec, attach and port-forward, which never pass through ``dispatch``.

Their upgrades (SPDY in ``streams/upgrade.py``, WebSocket in
``streams/websocket.py``) are asked as ``create`` on the pod's subresource
(``pods/exec``), as Kubernetes asks since 1.30 whatever method kubectl
used (GET for WebSockets, POST for SPDY); a role that grants only ``get``
on them, as older Kubernetes asked, no longer opens a shell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.apiserver.authz.attributes import Attributes
from orchestrator.apiserver.identity import UserInfo

if TYPE_CHECKING:
    from orchestrator.apiserver.app import APIState


def authorize_stream(state: APIState, user: UserInfo, namespace: str, name: str, sub: str) -> None:
    """Return when ``user`` may open the stream; raise the 403 otherwise."""
    if state.authorizer is None or user.is_master:
        return
    state.authorizer.check(
        Attributes(
            user,
            "create",
            api_version="v1",
            resource="pods",
            subresource=sub,
            namespace=namespace,
            name=name,
            path=f"/api/v1/namespaces/{namespace}/pods/{name}/{sub}",
        )
    )
