"""The node agent's own HTTPS server: container logs, exec, attach and port-forward.

Routes, as the real kubelet serves them on its port 10250:

    GET /healthz                                          anonymous, "ok"
    GET /containerLogs/{namespace}/{pod}/{container}      text/plain, chunked
    GET /exec/{namespace}/{pod}/{container}?command=...   WebSocket (``remotecommand``)
    GET /attach/{namespace}/{pod}/{container}             WebSocket (``remotecommand``)
    GET /portForward/{namespace}/{pod}?port=P             WebSocket (``portforward``)
    GET /stats/summary                                    JSON, the kubelet's Summary
    GET /metrics/resource                                 Prometheus text (``statssummary``)

The streaming routes find the pod and container as the log route does
(``podUID`` is taken as a hint there too). What can be refused before the
upgrade (no client certificate, a bad query, no such pod or container) is
answered with an HTTP status and plain text; what fails once the socket is
up (the command is not there, the container has stopped) is a Failure
Status on the error channel, as from the kubelet.

The log route takes kubelet's query (``follow``, ``previous``,
``timestamps``, ``tailLines``, ``sinceSeconds``, ``sinceTime``,
``limitBytes``) and two hints of ours (``podUID``, ``containerID``), see
``orchestrator.kubelet.containerlogs``. The container is looked up in the
runtime (``sandboxes()``, ``containers()``) and its log streamed from
``runtime.logs()`` as it comes; with ``follow`` the stream lasts until the
runtime ends it (the container exited) or the client goes away, which
cancels the handler and closes the runtime's reader.

Trust (see ``orchestrator.pki``): the server presents a self-signed
certificate of its own, kept in ``cert_dir`` so that a restarted agent
keeps the certificate its Node publishes; ``publish()`` puts the port and
the certificate into the ``NodeSettings`` its ``NodeAgent`` registers.
Callers must present a client certificate signed by the cluster CA whose
common name is allowed (the API server's), or a bearer token the API server
authenticates and authorizes on the Node (``serverauth``, with
``delegate()``); anything else gets 401, as from the kubelet. ``/metrics``
serves the process's Prometheus registry (the agent's and its proxy's).
Errors are plain text with the HTTP status, in Kubernetes' words; the API
server turns them into a ``Status``.

aiohttp's server rather than uvicorn: it is already a dependency, needs no
ASGI layer for a handful of routes, reports its bound address and lets a
handler read the peer certificate from the transport.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from aiohttp import web

from orchestrator import pki
from orchestrator.kubelet import portforward, remotecommand
from orchestrator.kubelet.containerlogs import (
    LogRequest,
    LogRequestError,
    find_pod_uid,
    parse_log_request,
    pick_container,
)
from orchestrator.kubelet.registration import NodeSettings
from orchestrator.kubelet.remotecommand import StreamRequestError
from orchestrator.kubelet.runtimes.base import (
    ContainerState,
    LogOptions,
    PortTarget,
    Sandbox,
    StreamError,
    StreamOptions,
    StreamSession,
)
from orchestrator.kubelet.serverauth import question_of
from orchestrator.kubelet.statssummary import Snapshot, resource_metrics, summary
from orchestrator.metrics.delegated import DelegatedAuth
from orchestrator.metrics.server import exposition

log = logging.getLogger(__name__)
_DELEGATED = web.RequestKey("paas.delegated", bool)  # a bearer token was reviewed and allowed
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SettingsT = TypeVar("SettingsT", bound=NodeSettings)


class LogSource(Protocol):
    """What the server needs of a runtime (``runtimes.base.Runtime`` has it all)."""

    async def sandboxes(self) -> list[Sandbox]: ...

    async def containers(self, pod_uid: str | None = None) -> list[ContainerState]: ...

    def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]: ...


class StatsView(Protocol):
    """The sampler's newest view (``statssampler.StatsSampler`` has it)."""

    def snapshot(self) -> Snapshot: ...


class StreamSource(LogSource, Protocol):
    """What the streaming routes need besides (``runtimes.base.Runtime`` has it all)."""

    async def exec_stream(
        self, container_id: str, argv: list[str], options: StreamOptions
    ) -> StreamSession: ...

    async def attach(self, container_id: str, options: StreamOptions) -> StreamSession: ...

    async def port_target(self, pod_uid: str) -> PortTarget: ...


@dataclass(frozen=True)
class KubeletServerSettings:
    """Where the node agent serves HTTPS and whom it lets in."""

    cert_dir: Path  # the serving key and certificate; kept, so a restart keeps the Node's valid
    host: str = "127.0.0.1"  # the node's InternalIP is the right choice; 0.0.0.0 serves them all
    port: int = 0  # 0 picks a free port (the kubelet's is 10250: nodes sharing a host collide)
    cert_hosts: tuple[str, ...] = ()  # more names and addresses the certificate covers
    client_ca: bytes | None = None  # the cluster CA (PEM); None = no caller can be verified
    allowed_clients: tuple[str, ...] = (pki.KUBELET_CLIENT_NAME,)  # client certificate names
    cert_name: str = "kubelet"  # file names (and common name) of the serving certificate
    shutdown_timeout: float = 1.0  # how long close() lets open log streams finish


class KubeletServer:
    """One node agent's HTTPS server; ``start()`` binds, ``close()`` stops."""

    def __init__(
        self,
        runtime: StreamSource,
        settings: KubeletServerSettings,
        stats: StatsView | None = None,  # None: the stats routes answer 404
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.stats = stats
        self.port = 0
        self.cert_pem = b""
        self.streams = 0  # log responses being written now (a reader gone away ends its own)
        self._runner: web.AppRunner | None = None
        self.auth: DelegatedAuth | None = None  # bearer tokens (delegate())
        self.node_name = ""

    def delegate(self, auth: DelegatedAuth, node_name: str) -> None:
        """Accept bearer tokens too, reviewed by the API server as on Node ``node_name``."""
        self.auth = auth
        self.node_name = node_name

    @property
    def url(self) -> str:
        host = self.settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{self.port}"

    async def start(self) -> None:
        """Make or reuse the serving certificate, bind, serve; ``port`` is then known."""
        s = self.settings
        hosts = [h for h in (s.host, *s.cert_hosts) if h not in ("0.0.0.0", "::", "")]
        cert = pki.ensure_self_signed_cert(s.cert_dir, s.cert_name, [*hosts, "localhost"])
        self.cert_pem = cert.cert.read_bytes()
        context = pki.client_verifying_context(cert, s.client_ca)
        app = web.Application(middlewares=[self._bearer])
        app.router.add_get("/healthz", _healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        app.router.add_get("/exec/{namespace}/{pod}/{container}", self._exec)
        app.router.add_get("/attach/{namespace}/{pod}/{container}", self._attach)
        app.router.add_get("/portForward/{namespace}/{pod}", self._port_forward)
        app.router.add_get("/stats/summary", self._stats_summary)
        app.router.add_get("/metrics/resource", self._metrics_resource)
        # handler_cancellation: a log stream whose reader went away is cancelled at once,
        # not when the next line happens to be written.
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=s.shutdown_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, s.host, s.port, ssl_context=context)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("node agent serving HTTPS at %s", self.url)

    def publish(self, settings: SettingsT) -> SettingsT:
        """``settings`` with this server's port and certificate, for the NodeAgent to register."""
        annotations = {
            **settings.annotations,
            pki.KUBELET_SERVING_CERT_ANNOTATION: self.cert_pem.decode("ascii"),
        }
        return dataclasses.replace(settings, daemon_port=self.port, annotations=annotations)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers ------------------------------------------------------------

    @web.middleware
    async def _bearer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A bearer token is reviewed by the API server (serverauth.py) before any handler."""
        authorization = request.headers.get("Authorization")
        if authorization and self.auth is not None and request.path != "/healthz":
            if not self._has_client_cert(request):  # the certificate, when shown, decides
                refusal = await self.auth.check(
                    authorization, question_of(request.method, request.path, self.node_name)
                )
                if refusal is not None:
                    return web.Response(status=refusal.status, text=refusal.message)
                request[_DELEGATED] = True
        return await handler(request)

    def _has_client_cert(self, request: web.Request) -> bool:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        return pki.peer_common_name(peer) in self.settings.allowed_clients

    async def _metrics(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body, content_type = exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    def _refusal(self, request: web.Request) -> web.Response | None:
        """401 unless the caller showed an allowed client certificate (or a reviewed token)."""
        if request.get(_DELEGATED):
            return None
        if self.settings.client_ca is None:
            return web.Response(
                status=401,
                text="Unauthorized: this node agent was started without the cluster CA "
                "(paas node --ca), so it cannot verify the API server",
            )
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        if pki.peer_common_name(peer) not in self.settings.allowed_clients:
            return web.Response(status=401, text="Unauthorized")
        return None

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        m = request.match_info
        try:
            wanted = parse_log_request(
                m["namespace"], m["pod"], m["container"], request.query, datetime.now(UTC)
            )
            uid = wanted.pod_uid or find_pod_uid(
                await self.runtime.sandboxes(), wanted.namespace, wanted.pod
            )
            if not uid:
                raise LogRequestError(404, f'pod "{wanted.pod}" does not exist')
            state = pick_container(wanted, await self.runtime.containers(uid))
        except LogRequestError as exc:
            return web.Response(status=exc.status, text=exc.message)
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        remaining = wanted.options.limit_bytes
        stream = self.runtime.logs(state.id, wanted.options)
        self.streams += 1
        try:
            async for chunk in stream:
                if remaining is not None:
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                await response.write(chunk)
                if remaining == 0:
                    break
        except ConnectionResetError:
            return response  # the reader went away
        except OSError as exc:  # the log files went away under us: end what was sent
            log.warning("log of %s stopped: %s", state.id, exc)
        except LookupError as exc:  # the container was removed between lookup and read
            log.info("log of %s is gone: %s", state.id, exc)
        finally:
            self.streams -= 1
            close = getattr(stream, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        await response.write_eof()
        return response

    async def _stats_summary(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self.stats is None:
            return web.Response(status=404, text="this node agent does not sample stats")
        return web.json_response(summary(self.stats.snapshot()))

    async def _metrics_resource(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self.stats is None:
            return web.Response(status=404, text="this node agent does not sample stats")
        return web.Response(
            body=resource_metrics(self.stats.snapshot()).encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def _find_container(self, request: web.Request) -> ContainerState:
        """The container the path names; LogRequestError with the kubelet's status and words."""
        m = request.match_info
        wanted = LogRequest(
            namespace=m["namespace"],
            pod=m["pod"],
            container=m["container"],
            previous=False,
            options=LogOptions(),
            pod_uid=request.query.get("podUID", ""),
        )
        uid = wanted.pod_uid or find_pod_uid(
            await self.runtime.sandboxes(), wanted.namespace, wanted.pod
        )
        if not uid:
            raise LogRequestError(404, f'pod "{wanted.pod}" does not exist')
        containers = [c for c in await self.runtime.containers(uid) if c.name == wanted.container]
        if not containers:
            raise LogRequestError(404, f'container "{wanted.container}" not found in pod')
        return pick_container(wanted, containers)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, attach=False)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, attach=True)

    async def _remote_command(self, request: web.Request, *, attach: bool) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        try:
            options = remotecommand.stream_options(request.query)
            argv = [] if attach else remotecommand.exec_command(request.query)
            _require_upgrade(request)
            state = await self._find_container(request)
        except (StreamRequestError, LogRequestError) as exc:
            return web.Response(status=exc.status, text=exc.message)
        # The session starts before the upgrade is answered, so that an attach follows the
        # output from the moment the client knows it is attached; its failure is a Status.
        session: StreamSession | None = None
        try:
            if attach:
                session = await self.runtime.attach(state.id, options)
            else:
                session = await self.runtime.exec_stream(state.id, argv, options)
        except (StreamError, LookupError) as exc:
            problem = str(exc)
        try:
            ws = await remotecommand.upgrade(request, remotecommand.PROTOCOLS)
        except BaseException:
            if session is not None:
                await session.close()
            raise
        if session is None:
            await remotecommand.send_status(ws, remotecommand.failure(problem))
            return ws
        self.streams += 1
        try:
            await remotecommand.serve_session(ws, session, argv)
        finally:
            self.streams -= 1
        return ws

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        m = request.match_info
        try:
            ports = portforward.forward_ports(request.query)
            _require_upgrade(request)
            uid = request.query.get("podUID", "") or find_pod_uid(
                await self.runtime.sandboxes(), m["namespace"], m["pod"]
            )
            if not uid:
                raise LogRequestError(404, f'pod "{m["pod"]}" does not exist')
            target = await self.runtime.port_target(uid)
        except (StreamRequestError, LogRequestError) as exc:
            return web.Response(status=exc.status, text=exc.message)
        except LookupError:
            return web.Response(status=404, text=f'pod "{m["pod"]}" does not exist')
        ws = await remotecommand.upgrade(request, portforward.PROTOCOLS)
        wanted = portforward.ForwardRequest(m["namespace"], m["pod"], uid, ports)
        self.streams += 1
        try:
            await portforward.serve_forward(ws, wanted, target)
        finally:
            self.streams -= 1
        return ws


def _require_upgrade(request: web.Request) -> None:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise StreamRequestError(400, "Upgrade request required: this endpoint speaks WebSocket")


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")
