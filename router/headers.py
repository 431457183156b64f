"""What the router changes in heads going through it: pure functions over header lists.

To the pod (``request_head``): the request line with the target as
received, the headers as received minus hop-by-hop ones (``Connection`` and
what it lists, ``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``,
``Upgrade``, ``Proxy-*``) and ``Expect`` (the router answers 100-continue
itself), plus ``X-Forwarded-For`` (the peer: a client's own value is
replaced, not appended, as ingress-nginx does by default, so it cannot be
spoofed), ``X-Forwarded-Host``/``-Port``/``-Proto``; a client's
``Forwarded`` is dropped. ``Host`` is forwarded unchanged. A body goes with
its ``Content-Length``, or chunked. An upgrade request (WebSocket) keeps
``Upgrade`` and says ``Connection: upgrade``.

To the client (``response_head``): the pod's status and headers minus
hop-by-hop ones, framed for this client: the pod's ``Content-Length`` when
it gave one, else chunked (HTTP/1.1) or delimited by closing (HTTP/1.0);
``Connection: close`` when the connection ends after this answer. A 101
goes through with its ``Connection``/``Upgrade`` headers.

Each runs one pass over the headers, lower-casing each name once; a
``Connection`` header listing names of its own (rare) costs a second pass.
"""

from __future__ import annotations

Headers = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    )
)
DROPPED = HOP_BY_HOP | {
    b"expect",
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-port",
    b"x-forwarded-proto",
}
_PLAIN_TOKENS = frozenset((b"", b"close", b"keep-alive", b"upgrade"))
_REQUEST_NOTED = DROPPED | {b"host", b"content-length"}


class RequestHead:
    """The head for the pod and what the router learnt reading it."""

    __slots__ = ("chunked", "data", "expect_continue", "has_body", "host")

    def __init__(
        self, data: bytes, host: bytes, has_body: bool, chunked: bool, expect_continue: bool
    ) -> None:
        self.data = data
        self.host = host
        self.has_body = has_body
        self.chunked = chunked
        self.expect_continue = expect_continue


def request_head(
    method: str,
    target: bytes,
    headers: Headers,
    *,
    peer: str,
    local: tuple[str, int],
    scheme: str,
    upgrade: bool,
) -> RequestHead:
    """The request head to send to the pod."""
    parts = [method.encode("latin-1"), b" ", target, b" HTTP/1.1\r\n"]
    host = b""
    length: bytes | None = None
    chunked = expect = False
    listed: set[bytes] = set()
    upgrade_to = b""
    for name, value in headers:
        lower = name.lower()
        if lower in _REQUEST_NOTED:
            if lower == b"host":
                host = value
            elif lower == b"content-length":
                length = value
            elif lower == b"transfer-encoding":
                chunked = True
                continue
            elif lower == b"expect":
                expect = value.strip().lower() == b"100-continue"
                continue
            elif lower == b"connection":
                listed.update(t.strip().lower() for t in value.split(b","))
                continue
            elif lower == b"upgrade":
                upgrade_to = value
                continue
            else:
                continue
        parts += (name, b": ", value, b"\r\n")
    listed -= _PLAIN_TOKENS
    if listed:  # names the client made hop-by-hop for this connection: a second pass
        parts = parts[:4]
        for name, value in headers:
            lower = name.lower()
            if lower not in DROPPED and lower not in listed:
                parts += (name, b": ", value, b"\r\n")
    if not host:
        parts.append(b"host: %s:%d\r\n" % (local[0].encode(), local[1]))
    parts += (
        b"x-forwarded-for: ",
        peer.encode(),
        b"\r\nx-forwarded-host: ",
        host,
        b"\r\nx-forwarded-port: %d\r\nx-forwarded-proto: " % local[1],
        scheme.encode(),
        b"\r\n",
    )
    if upgrade and upgrade_to:
        parts += (b"connection: upgrade\r\nupgrade: ", upgrade_to, b"\r\n")
    if chunked:
        parts.append(b"transfer-encoding: chunked\r\n")
    parts.append(b"\r\n")
    has_body = chunked or (length is not None and length.strip() not in (b"0", b""))
    return RequestHead(b"".join(parts), host, has_body, chunked, expect)


def response_head(
    status: int,
    reason: bytes,
    headers: Headers,
    *,
    method: str,
    version: str,
    keep_alive: bool,
) -> tuple[bytes, bool, bool]:
    """The answer's head for the client; whether its body is to be chunked; keep-alive."""
    parts = [b"HTTP/1.1 %d " % status, reason, b"\r\n"]
    if status == 101:
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts), False, False
    length = False
    listed: set[bytes] = set()
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"connection":
                listed.update(t.strip().lower() for t in value.split(b","))
            continue
        if lower == b"content-length":
            length = True
        parts += (name, b": ", value, b"\r\n")
    listed -= _PLAIN_TOKENS
    if listed:
        parts = parts[:3]
        for name, value in headers:
            lower = name.lower()
            if lower not in HOP_BY_HOP and lower not in listed:
                parts += (name, b": ", value, b"\r\n")
    chunked = False
    if not (length or method == "HEAD" or status in (204, 304) or status < 200):
        if version == "1.1":
            chunked = True
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            keep_alive = False  # an HTTP/1.0 client knows no chunks: the close ends the body
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    elif version == "1.0":
        parts.append(b"connection: keep-alive\r\n")
    parts.append(b"\r\n")
    return b"".join(parts), chunked, keep_alive
