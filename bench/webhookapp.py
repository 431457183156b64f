"""The webhook of bench/webhook: an ASGI app under uvicorn that allows every request.

It answers an AdmissionReview with ``allowed: true`` and the request's uid,
parsing the body as any webhook must; the one exception is an object named
``refuse-me``, refused so the benchmark can tell when the API server has
taken up or dropped its configuration. Raw ASGI, no framework: the figure
is meant to show the API server's cost of a webhook round trip, with as
little of the webhook's own as a Python webhook can have.
"""

from __future__ import annotations

import json
from typing import Any

PROBE_NAME = "refuse-me"
HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body)["request"]
    name = ((request.get("object") or {}).get("metadata") or {}).get("name")
    response: dict[str, Any] = {"uid": request["uid"], "allowed": name != PROBE_NAME}
    if name == PROBE_NAME:
        response["status"] = {"code": 403, "message": "probe refused"}
    answer = json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
    ).encode()
    headers = [*HEADERS, (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
