"""An async client for the API, over aiohttp.

Paths are built from a ``ResourceType`` (see ``orchestrator.api.resources``)
or discovered by kind. Failures come back as the API's own error classes
(``orchestrator.api.errors``), mapped once from the Status the server sent;
transport failures become ``ServiceUnavailable`` naming the server. Watches
yield ``(type, object)`` pairs from the newline-delimited stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from orchestrator.api import errors, jsoncodec
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType, ResourceTypes
from orchestrator.client.config import ClientConfig, ssl_context

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


class Unreachable(errors.ServiceUnavailable):
    """The API server could not be reached (or the connection broke)."""


@dataclass(frozen=True)
class Response:
    """A finished HTTP response: status, headers (repeats kept) and body."""

    status_code: int
    headers: tuple[tuple[str, str], ...]
    content: bytes

    def json(self) -> Any:
        return jsoncodec.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def header_list(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for k, v in self.headers if k.lower() == wanted]


def raise_for_status(status: int, content: bytes) -> None:
    if status < 400:
        return
    try:
        body = jsoncodec.loads(content)
    except ValueError:
        body = {"message": content.decode(errors="replace").strip() or f"HTTP {status}"}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    raise errors.from_status(body, status)


class _TrackingConnector(aiohttp.TCPConnector):
    """A connector that remembers each transport it opened.

    aiohttp closes a connection dropped mid-request (its task cancelled) with a
    TLS shutdown that nobody awaits and then forgets the transport; when the
    event loop ends first, the socket is left to the garbage collector.
    ``APIClient.close`` aborts whatever is still open. (``_create_connection``
    is aiohttp's own hook for making connections, stable across 3.x.)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.opened: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        proto = await super()._create_connection(req, traces, timeout)
        if proto.transport is not None:
            self.opened.add(proto.transport)
        return proto


class APIClient:
    def __init__(
        self, config: ClientConfig, *, types: ResourceTypes = BUILTIN_TYPES, timeout: float = 30.0
    ) -> None:
        self.config = config
        self.types = types
        self._headers = {"Accept": "application/json", "User-Agent": "paas-client/0.1"}
        if config.token:
            self._headers["Authorization"] = f"Bearer {config.token}"
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._connector: _TrackingConnector | None = None

    def _http(self) -> aiohttp.ClientSession:
        """The connection pool, made on first use (it must belong to the running loop)."""
        if self._session is None or self._session.closed:
            self._connector = _TrackingConnector(ssl=ssl_context(self.config), limit=100)
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=self._connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                auto_decompress=True,
            )
        return self._session

    def _url(self, path: str) -> str:
        return self.config.server + path

    async def __aenter__(self) -> APIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is None:
            return
        await self._session.close()
        self._session = None
        if self._connector is not None:
            for transport in list(self._connector.opened):
                transport.abort()  # a no-op for those that finished closing
            self._connector = None
            await asyncio.sleep(0)  # one loop turn: the aborted transports' callbacks run

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
    ) -> Response:
        hdrs = dict(headers or {})
        if json_body is not None:
            content = jsoncodec.dumps(json_body)
        if content is not None:
            hdrs["Content-Type"] = content_type
        try:
            async with self._http().request(
                method, self._url(path), params=_clean(params), data=content, headers=hdrs
            ) as r:
                with _abort_if_interrupted(r):
                    response = Response(r.status, tuple(r.headers.items()), await r.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(
                f"cannot reach the API server at {self.config.server}: {exc or type(exc).__name__}"
            ) from exc
        raise_for_status(response.status_code, response.content)
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
        uid: str = "",
    ) -> Obj:
        """Delete ``name``; with ``uid``, only that object (409 if the name now holds another)."""
        body: Obj = {}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if uid:
            body["preconditions"] = {"uid": uid}
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
        headers = {"Accept": TABLE_ACCEPT} if as_table else {}
        try:
            async with self._http().get(
                self._url(resource_path(rt, namespace)),
                params=_clean(params),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None),
            ) as response:
                if response.status >= 400:
                    raise_for_status(response.status, await response.read())
                with _abort_if_interrupted(response):
                    async for event in _events(response):
                        yield event
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(
                f"watch of {rt.plural} at {self.config.server} broke: {exc or type(exc).__name__}"
            ) from exc

    async def stream(self, path: str, params: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
        """GET a body that arrives over time (a pod's log): chunks as they come, no time limit.

        An error answer raises its API error before anything is yielded.
        """
        try:
            async with self._http().get(
                self._url(path),
                params=_clean(params),
                headers={"Accept": "*/*"},
                timeout=aiohttp.ClientTimeout(total=None),
            ) as response:
                if response.status >= 400:
                    raise_for_status(response.status, await response.read())
                with _abort_if_interrupted(response):
                    async for chunk in response.content.iter_any():
                        yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(
                f"reading {path} from {self.config.server} broke: {exc or type(exc).__name__}"
            ) from exc

    # -- discovery -----------------------------------------------------------

    def resource_for(self, api_version: str, kind: str) -> ResourceType:
        rt = self.types.by_kind(api_version, kind)
        if rt is None:
            raise errors.NotFound(f'no resource of kind "{kind}" in "{api_version}" is known')
        return rt


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Obj]]:
    # Split lines ourselves: one event may be a 1.5 MiB object, past the line length
    # aiohttp's own readline accepts.
    pending = b""
    async for chunk in response.content.iter_any():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            event = jsoncodec.loads(line)
            if event.get("type") == "ERROR":
                raise errors.from_status(event.get("object") or {}, 500)
            yield event["type"], event["object"]


@contextlib.contextmanager
def _abort_if_interrupted(response: aiohttp.ClientResponse) -> Iterator[None]:
    """Drop the connection at once when a response is abandoned half-read.

    aiohttp would close it with a TLS shutdown that nobody awaits; a watch
    cancelled when its informer stops would leave the socket to the garbage
    collector. Nothing of the stream is wanted any more, so abort it.
    """
    try:
        yield
    except BaseException:
        connection = response.connection
        if connection is not None and connection.transport is not None:
            connection.transport.abort()
        raise


def _clean(params: dict[str, Any] | None) -> dict[str, str] | None:
    if params is None:
        return None
    return {k: str(v) for k, v in params.items() if v not in (None, "")}
