"""The API server's connection to a node agent's own HTTPS port.

Logs (and later exec) are not in the store: the API server asks the node
agent the pod runs on, as Kubernetes' API server asks the kubelet. Where to
call and whom to trust come from the Node object the agent registered:

- the address: ``status.addresses`` (InternalIP, else ExternalIP, else
  Hostname), the port: ``status.daemonEndpoints.kubeletEndpoint.Port``;
- the certificate: the PEM in ``pki.KUBELET_SERVING_CERT_ANNOTATION``,
  trusted as the only anchor for that node (``pki.pinned_context``);
- the API server authenticates with its client certificate signed by the
  cluster CA (``NodeProxySettings.client_cert``).

Exec, attach and port-forward open a WebSocket to the node
(``open_websocket``), in the kubelet's own channel protocol; the caller
relays it (``orchestrator.apiserver.streams``).

Each request opens its own connection (logs are rare and long; a pool
would hold TLS sessions for nothing) and the caller gets the response
body as an async iterator that closes the connection when it ends, is
closed, or is abandoned. Failures become API errors naming the node:
unreachable or a certificate other than the published one -> 503; the
node's own 4xx answers keep their code and its message.

Not a way to reach arbitrary addresses (server-side request forgery): the
API server calls with a client certificate nodes trust, so where it calls
must be the node's own word. Only the node itself and ``system:masters``
may write a Node's addresses, port and certificate annotation
(``nodeauth/admission.py``); the node's certificate is always verified,
also when a client asks to skip it (``insecureSkipTLSVerifyBackend`` is
accepted and ignored); and a connection that fails says only that the node
could not be reached: refused, timed out and "some other TLS server
answered" look the same to the caller (the API server's log has the
detail), so the error text cannot be used to scan ports.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import yarl

from orchestrator import pki
from orchestrator.api import errors
from orchestrator.api.objects import Obj, annotations_of, metadata_of

log = logging.getLogger(__name__)
_ADDRESS_ORDER = ("InternalIP", "ExternalIP", "Hostname")
_MAX_ERROR_BODY = 64 * 1024
# Headers of one connection, not of the message (RFC 9110 7.6.1), and the body's framing.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


@dataclass(frozen=True)
class NodeProxySettings:
    client_cert: pki.CertPaths | None = None  # signed by the cluster CA; None = cannot call nodes
    connect_timeout: float = 10.0  # TCP and TLS set-up; a log stream itself has no time limit
    answer_timeout: float = 30.0  # until the node's response headers (it looks the pod up)


@dataclass(frozen=True)
class NodeEndpoint:
    node: str
    host: str
    port: int
    cert_pem: bytes

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{shown}:{self.port}"


def node_endpoint(node: Obj) -> NodeEndpoint:
    """Where the node's agent serves and its certificate; 503 when it published none."""
    name = metadata_of(node).get("name", "")
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    if not isinstance(port, int) or port <= 0:
        raise errors.ServiceUnavailable(
            f'node "{name}" publishes no port for its node agent '
            "(status.daemonEndpoints.kubeletEndpoint.Port); a simulated node serves no logs"
        )
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = next((addresses[t] for t in _ADDRESS_ORDER if addresses.get(t)), "")
    if not host:
        raise errors.ServiceUnavailable(f'node "{name}" publishes no address (status.addresses)')
    annotations = annotations_of(node)
    cert = annotations.get(pki.KUBELET_SERVING_CERT_ANNOTATION, "")
    if not cert:
        raise errors.ServiceUnavailable(
            f'node "{name}" publishes no serving certificate '
            f"(annotation {pki.KUBELET_SERVING_CERT_ANNOTATION}), so it cannot be trusted"
        )
    return NodeEndpoint(node=name, host=str(host), port=port, cert_pem=str(cert).encode())


class NodeProxy:
    """Opens requests to node agents with the API server's client certificate."""

    def __init__(self, settings: NodeProxySettings | None = None) -> None:
        self.settings = settings or NodeProxySettings()

    def _context(self, endpoint: NodeEndpoint) -> ssl.SSLContext:
        client = self.settings.client_cert
        if client is None:
            raise errors.ServiceUnavailable(
                "the API server has no client certificate for node agents "
                "(paas apiserver --kubelet-client-cert), so it cannot reach them"
            )
        try:
            return pki.pinned_context(endpoint.cert_pem, client)
        except (ValueError, ssl.SSLError) as exc:
            raise errors.ServiceUnavailable(
                f'node "{endpoint.node}" publishes an unusable serving certificate: {exc}'
            ) from exc

    async def stream(
        self,
        endpoint: NodeEndpoint,
        path: str,
        params: Mapping[str, str],
    ) -> AsyncGenerator[bytes, None]:
        """GET ``path`` on the node; returns the body once the node answered 2xx."""
        session, response = await self._open(endpoint, "GET", path, dict(params))
        if response.status >= 300:
            try:
                body = await response.content.read(_MAX_ERROR_BODY)
            finally:
                response.close()
                await session.close()
            raise _node_error(endpoint, response.status, body.decode(errors="replace").strip())
        return _body(session, response)

    async def forward(
        self,
        endpoint: NodeEndpoint,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        data: bytes,
    ) -> NodeAnswer:
        """Any request to the node, answered as the node answered (``nodes/NAME/proxy``)."""
        url_query = f"?{query}" if query else ""
        session, response = await self._open(
            endpoint, method, path + url_query, None, headers=headers, data=data
        )
        return NodeAnswer(
            response.status,
            [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP],
            _body(session, response),
        )

    async def _open(
        self,
        endpoint: NodeEndpoint,
        method: str,
        path: str,
        params: dict[str, str] | None,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes = b"",
    ) -> tuple[aiohttp.ClientSession, aiohttp.ClientResponse]:
        """A request to the node, up to its response headers; unreachable -> 503."""
        context = self._context(endpoint)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, force_close=True),
            timeout=aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        )
        try:
            response = await asyncio.wait_for(
                session.request(
                    method,
                    yarl.URL(endpoint.url + path, encoded=True),
                    params=params,
                    headers=dict(headers or {}),
                    data=data or None,
                    allow_redirects=False,
                ),
                self.settings.answer_timeout,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await session.close()
            raise _unreachable(endpoint, exc) from exc
        except BaseException:
            await session.close()
            raise
        return session, response

    async def open_websocket(
        self,
        endpoint: NodeEndpoint,
        path: str,
        params: Sequence[tuple[str, str]],
        protocols: tuple[str, ...],
    ) -> NodeSocket:
        """A WebSocket to ``path`` on the node; API errors as ``stream`` raises them."""
        context = self._context(endpoint)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, force_close=True),
            timeout=aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout),
        )
        try:
            ws = await asyncio.wait_for(
                session.ws_connect(
                    endpoint.url + path,
                    params=list(params),
                    protocols=protocols,
                    autoping=True,
                    max_msg_size=0,
                ),
                self.settings.answer_timeout,
            )
        except aiohttp.WSServerHandshakeError as exc:
            # aiohttp drops the refusal's body, so the node's own words are not at hand here.
            await session.close()
            found = {404: "found no such pod or container", 400: "refused the request"}
            what = found.get(exc.status, f"answered {exc.status} ({exc.message})")
            raise _node_error(
                endpoint, exc.status, f'the node agent of node "{endpoint.node}" {what}'
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await session.close()
            raise _unreachable(endpoint, exc) from exc
        except BaseException:
            await session.close()
            raise
        return NodeSocket(session, ws)


@dataclass
class NodeAnswer:
    """A node's answer to a forwarded request: its status, its end-to-end headers, its body."""

    status: int
    headers: list[tuple[str, str]]
    body: AsyncGenerator[bytes, None]  # closes the connection when it ends or is closed


@dataclass
class NodeSocket:
    """A WebSocket to a node agent and the session that owns it; ``close()`` ends both."""

    session: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse

    @property
    def protocol(self) -> str:
        return self.ws.protocol or ""

    async def send(self, message: bytes) -> None:
        await self.ws.send_bytes(message)

    async def receive(self) -> bytes | None:
        """The next binary message; None once the node closed (text messages are skipped)."""
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                return bytes(msg.data)
            if msg.type in (aiohttp.WSMsgType.TEXT,):
                continue
            return None

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 2.0)
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass
        finally:
            await self.session.close()


def _unreachable(endpoint: NodeEndpoint, exc: BaseException) -> errors.APIError:
    """A node that cannot be reached, or presents a certificate other than its published one.

    One message for every cause, without the address or the error's text: those would tell
    a caller whether something listens at an address (see the module docstring).
    """
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        detail = f"a certificate other than the published one: {exc.certificate_error}"
    else:
        detail = str(exc) or type(exc).__name__
    log.warning("node %s at %s could not be reached: %s", endpoint.node, endpoint.url, detail)
    return errors.ServiceUnavailable(
        f'the node agent of node "{endpoint.node}" could not be reached with the serving '
        f"certificate its Node publishes ({pki.KUBELET_SERVING_CERT_ANNOTATION})"
    )


def _node_error(endpoint: NodeEndpoint, status: int, text: str) -> errors.APIError:
    """The node's refusal as the API error a user sees (kubelet words pass through)."""
    text = text or f"HTTP {status}"
    if status == 400:
        return errors.BadRequest(text)
    if status == 404:
        return errors.NotFound(text)
    if status in (401, 403):
        return errors.InternalError(
            f'the node agent of node "{endpoint.node}" refused the API server: {text}'
        )
    return errors.InternalError(f'the node agent of node "{endpoint.node}" failed: {text}')


async def _body(
    session: aiohttp.ClientSession, response: aiohttp.ClientResponse
) -> AsyncGenerator[bytes, None]:
    finished = False
    try:
        async for chunk in response.content.iter_any():
            yield chunk
        finished = True
    except aiohttp.ClientError as exc:  # the node went away mid-stream: end what was sent
        log.info("log stream from %s broke: %s", response.url.host, exc)
    finally:
        # A response left half-read would be closed with a TLS shutdown nobody awaits,
        # leaving its socket to the garbage collector: drop it instead.
        connection = response.connection
        if not finished and connection is not None and connection.transport is not None:
            connection.transport.abort()
        response.close()
        await session.close()
