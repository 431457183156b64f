"""Posting an AdmissionReview to a webhook over HTTPS, as Kubernetes' webhook client does.

Where to connect and whom to trust (``webhook/config``, §10.5):

- ``clientConfig.url``: that URL, its host verified against the certificate;
- ``clientConfig.service``: the address the API server's resolver gives for
  the Service (its cluster IP, or an endpoint), while TLS verifies the
  certificate for ``<name>.<namespace>.svc`` and sends that name as SNI and
  Host; messages show ``https://<name>.<namespace>.svc:<port><path>``.

The trust anchors are ``caBundle`` (base64 PEM), or the system's roots when
it is empty. Every URL gets ``?timeout=<N>s`` and the whole call, from
connecting to the last byte, is bounded by ``timeoutSeconds``, or by what is
left of the request's own deadline when that is sooner (``deadline.py``).

Connections are reused: one ``httpx.AsyncClient`` per (CA bundle, TLS server
name), each with its own pool and an SSL context built once per bundle.
Keying by server name too matters: two Services may resolve to the same
address, and a connection verified for one must not be reused for the other.

Every failure is a ``CallFailure`` whose reason reads like Go's
(``failed to call webhook: Post "<url>?timeout=10s": <why>``): ``dial tcp
127.0.0.1:9: connect: connection refused``, ``context deadline exceeded``,
``tls: failed to verify certificate: x509: ...``, or, for a non-2xx answer,
the answer's own Status message or client-go's generic text for the code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from orchestrator.api import errors, jsoncodec
from orchestrator.apiserver.admission.failures import CallFailure

# (namespace, name, port) -> (host, port) to connect to; raises errors.APIError or LookupError
ServiceResolver = Callable[[str, str, int], Awaitable[tuple[str, int]]]

_GENERIC_ANSWERS = {  # client-go's NewGenericServerResponse, for answers without a Status
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    403: "the server does not allow access to the requested resource",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: (
        "the server was unable to return a response in the time allotted, "
        "but may still be processing the request"
    ),
}
_UNKNOWN_AUTHORITY = frozenset({18, 19, 20, 21})  # OpenSSL: self-signed / unknown issuer


@dataclass(frozen=True)
class Endpoint:
    """Where one webhook is called."""

    url: str  # as messages show it: the configured URL, or https://<svc>.<ns>.svc:<port><path>
    connect_url: str  # where the request goes (the resolved address for a Service)
    server_name: str  # the name TLS verifies ("" = the connect URL's host)
    ca_bundle: str  # base64 PEM; "" = the system's roots


async def endpoint_for(client_config: Mapping[str, Any], resolve: ServiceResolver) -> Endpoint:
    """The endpoint of a ``clientConfig``; raises CallFailure when a Service cannot be resolved."""
    ca_bundle = str(client_config.get("caBundle") or "")
    url = client_config.get("url")
    if url:
        return Endpoint(str(url), str(url), "", ca_bundle)
    service = client_config.get("service") or {}
    namespace, name = str(service.get("namespace", "")), str(service.get("name", ""))
    port = int(service.get("port") or 443)
    path = str(service.get("path") or "/")
    server_name = f"{name}.{namespace}.svc"
    shown = f"https://{server_name}:{port}{path}"
    try:
        host, target_port = await resolve(namespace, name, port)
    except (errors.APIError, LookupError) as exc:
        raise CallFailure(f'failed to call webhook: Post "{shown}": {exc}') from None
    address = f"[{host}]" if ":" in host else host
    return Endpoint(shown, f"https://{address}:{target_port}{path}", server_name, ca_bundle)


class WebhookCaller:
    """Pooled HTTPS clients for webhooks; ``aclose`` closes their connections."""

    def __init__(self) -> None:
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}

    async def post(self, endpoint: Endpoint, body: dict[str, Any], timeout: float) -> bytes:
        """POST ``body`` and return the 2xx answer's bytes; raises CallFailure otherwise."""
        query = f"?timeout={go_duration(timeout)}"
        shown = f'Post "{endpoint.url}{query}"'
        if timeout <= 0:  # the request's deadline has passed: no call at all
            raise CallFailure(f"failed to call webhook: {shown}: context deadline exceeded")
        client = self._client(endpoint)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        extensions: dict[str, Any] = {}
        if endpoint.server_name:
            extensions["sni_hostname"] = endpoint.server_name
            headers["Host"] = httpx.URL(endpoint.url).netloc.decode("ascii")
        try:
            async with asyncio.timeout(timeout):
                response = await client.post(
                    endpoint.connect_url + query,
                    content=jsoncodec.dumps(body),
                    headers=headers,
                    extensions=extensions,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise CallFailure(
                f"failed to call webhook: {shown}: context deadline exceeded"
            ) from None
        except httpx.HTTPError as exc:
            reason = _transport_reason(exc, endpoint)
            raise CallFailure(f"failed to call webhook: {shown}: {reason}") from None
        if not 200 <= response.status_code <= 206:
            raise CallFailure(f"failed to call webhook: {_answer_error(response)}")
        return response.content

    def _client(self, endpoint: Endpoint) -> httpx.AsyncClient:
        key = (endpoint.ca_bundle, endpoint.server_name)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(verify=self._context(endpoint.ca_bundle), timeout=None)
            self._clients[key] = client
        return client

    def _context(self, ca_bundle: str) -> ssl.SSLContext:
        context = self._contexts.get(ca_bundle)
        if context is None:
            context = ssl.create_default_context()
            if ca_bundle:
                try:
                    pem = base64.b64decode(ca_bundle, validate=True).decode("ascii")
                    context.load_verify_locations(cadata=pem)
                except (binascii.Error, ValueError, ssl.SSLError) as exc:
                    raise CallFailure(
                        "could not get REST client: unable to load root certificates: "
                        f"unable to parse bytes as PEM block ({exc})"
                    ) from None
            self._contexts[ca_bundle] = context
        return context

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()


def _transport_reason(exc: BaseException, endpoint: Endpoint) -> str:
    """Go's words for why a connection or exchange failed."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            if cause.verify_code in _UNKNOWN_AUTHORITY:
                detail = "certificate signed by unknown authority"
            else:
                detail = str(cause.verify_message)
            return f"tls: failed to verify certificate: x509: {detail}"
        if isinstance(cause, ConnectionRefusedError):
            url = httpx.URL(endpoint.connect_url)
            host = f"[{url.host}]" if ":" in url.host else url.host
            return f"dial tcp {host}:{url.port or 443}: connect: connection refused"
        if isinstance(cause, ssl.SSLError):
            return f"remote error: tls: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _answer_error(response: httpx.Response) -> str:
    """client-go's error for a non-2xx answer: its Status message, else a generic text."""
    try:
        status = jsoncodec.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status" and status.get("message"):
        return str(status["message"])
    code = response.status_code
    if code in _GENERIC_ANSWERS:
        return _GENERIC_ANSWERS[code]
    if code >= 500:
        body = response.text.strip()
        return f'an error on the server ("{body}") has prevented the request from succeeding'
    return f"the server responded with the status code {code} but did not return more information"


def go_duration(seconds: float) -> str:
    """``10s`` for whole seconds, else milliseconds (``1500ms``), as the call's query shows it."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{max(int(seconds * 1000), 0)}ms"
