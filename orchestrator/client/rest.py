"""An async client for the API, over httpx.

Paths are built from a ``ResourceType`` (see ``orchestrator.api.resources``)
or discovered by kind. Failures come back as the API's own error classes
(``orchestrator.api.errors``), mapped once from the Status the server sent;
transport failures become ``ServiceUnavailable`` naming the server. Watches
yield ``(type, object)`` pairs from the newline-delimited stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType, ResourceTypes
from orchestrator.client.config import ClientConfig, ssl_context

Obj = dict[str, Any]
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def resource_path(
    rt: ResourceType, namespace: str = "", name: str = "", subresource: str = ""
) -> str:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    if rt.namespaced and namespace:
        base += f"/namespaces/{quote(namespace)}"
    path = f"{base}/{rt.plural}"
    if name:
        path += f"/{quote(name)}"
    if subresource:
        path += f"/{subresource}"
    return path


def raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text.strip() or f"HTTP {response.status_code}"}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    raise errors.from_status(body, response.status_code)


class APIClient:
    def __init__(
        self, config: ClientConfig, *, types: ResourceTypes = BUILTIN_TYPES, timeout: float = 30.0
    ) -> None:
        self.config = config
        self.types = types
        headers = {"Accept": "application/json", "User-Agent": "paas-client/0.1"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.AsyncClient(
            base_url=config.server, headers=headers, verify=ssl_context(config), timeout=timeout
        )

    async def __aenter__(self) -> APIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
        if content is not None:
            hdrs["Content-Type"] = content_type
        try:
            response = await self._http.request(
                method, path, params=_clean(params), content=content, headers=hdrs
            )
        except httpx.TransportError as exc:
            raise errors.ServiceUnavailable(
                f"cannot reach the API server at {self.config.server}: {exc}"
            ) from exc
        raise_for_status(response)
        return response

    # -- verbs ---------------------------------------------------------------

    async def get(self, rt: ResourceType, name: str, namespace: str = "") -> Obj:
        r = await self.request("GET", resource_path(rt, namespace, name))
        return r.json()

    async def list(
        self,
        rt: ResourceType,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
    ) -> Obj:
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit or None,
        }
        items: list[Obj] = []
        token = ""
        while True:
            r = await self.request(
                "GET", resource_path(rt, namespace), params={**params, "continue": token or None}
            )
            page = r.json()
            items.extend(page.get("items") or [])
            token = page.get("metadata", {}).get("continue", "")
            if not token:
                page["items"] = items
                return page

    async def table(
        self,
        rt: ResourceType,
        namespace: str = "",
        name: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Obj:
        """The server's ``meta.k8s.io/v1`` Table for one object or a whole (paged) list."""
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": None if name else 500,
        }
        rows: list[Obj] = []
        token = ""
        while True:
            r = await self.request(
                "GET",
                resource_path(rt, namespace, name),
                params={**params, "continue": token or None},
                headers={"Accept": TABLE_ACCEPT},
            )
            page = r.json()
            rows.extend(page.get("rows") or [])
            token = "" if name else page.get("metadata", {}).get("continue", "")
            if not token:
                page["rows"] = rows
                return page

    async def create(self, rt: ResourceType, obj: Obj, namespace: str = "", **params: Any) -> Obj:
        r = await self.request("POST", resource_path(rt, namespace), json_body=obj, params=params)
        return r.json()

    async def replace(
        self, rt: ResourceType, obj: Obj, namespace: str = "", subresource: str = "", **params: Any
    ) -> Obj:
        name = obj["metadata"]["name"]
        r = await self.request(
            "PUT", resource_path(rt, namespace, name, subresource), json_body=obj, params=params
        )
        return r.json()

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        namespace: str = "",
        *,
        patch_type: str = "application/merge-patch+json",
        subresource: str = "",
        **params: Any,
    ) -> Obj:
        r = await self.request(
            "PATCH",
            resource_path(rt, namespace, name, subresource),
            json_body=patch,
            content_type=patch_type,
            params=params,
        )
        return r.json()

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
    ) -> Obj:
        body: Obj = {}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        r = await self.request("DELETE", resource_path(rt, namespace, name), json_body=body or None)
        return r.json()

    async def watch(
        self,
        rt: ResourceType,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int | None = None,
        bookmarks: bool = False,
        as_table: bool = False,
    ) -> AsyncIterator[tuple[str, Obj]]:
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": "true" if bookmarks else None,
        }
        try:
            headers = {"Accept": TABLE_ACCEPT} if as_table else None
            async with self._http.stream(
                "GET",
                resource_path(rt, namespace),
                params=_clean(params),
                headers=headers,
                timeout=None,
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise_for_status(response)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        raise errors.from_status(event.get("object") or {}, 500)
                    yield event["type"], event["object"]
        except httpx.TransportError as exc:
            raise errors.ServiceUnavailable(
                f"watch of {rt.plural} at {self.config.server} broke: {exc}"
            ) from exc

    # -- discovery -----------------------------------------------------------

    def resource_for(self, api_version: str, kind: str) -> ResourceType:
        rt = self.types.by_kind(api_version, kind)
        if rt is None:
            raise errors.NotFound(f'no resource of kind "{kind}" in "{api_version}" is known')
        return rt


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v not in (None, "")}
