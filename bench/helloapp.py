"""The Python backend of bench/net_proxy: an ASGI app under uvicorn, answering "hello".

It stands for the apps the platform runs (a Python web framework's cost
per request), so the proxy's share of the time is seen against a realistic
backend and not only against nginx.
"""

from __future__ import annotations

from typing import Any

BODY = b"hello\n"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
