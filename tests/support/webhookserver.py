"""A real HTTPS admission webhook server for tests: ``serve_webhooks``.

uvicorn serves on 127.0.0.1, port 0, in the caller's event loop, with a
certificate signed by the given CA (``orchestrator.pki``), covering
127.0.0.1 and the given Service names (so it can be reached by URL or as a
Service). Each path is one behaviour; every AdmissionReview received is
kept, so tests can check what a webhook saw (and that it saw nothing).

Synchronous tests (kubectl in a subprocess) use ``webhooks_in_thread``: the
same server in a thread with its own event loop, stoppable mid-test (a
webhook that goes down) through ``ThreadedWebhooks.stop``.

    /add/<label>   mutating: adds the label <label>="yes" unless present
    /validate      refuses objects named "forbidden" (403), else allows with a warning
    /validate/<t>  the same, its reviews kept apart under its own path
    /deny          refuses without a message
    /slow          answers only when the test ends (for timeouts)
    /wrong-uid     answers with another uid
    /error         answers 500 with a plain-text body
    /patch-always  a patch whatever the operation (for DELETE)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from orchestrator import pki


@dataclass
class WebhookServer:
    port: int
    ca_bundle: str  # base64 PEM of the CA that signed the server's certificate
    reviews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[dict[str, Any]]:
        """The AdmissionReview requests ``path`` received, in order."""
        return self.reviews.get(path, [])


def _answer(request: dict[str, Any], **response: Any) -> JSONResponse:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": request["uid"], **response},
    }
    return JSONResponse(body)


def _patch(ops: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(ops).encode()).decode()


def _app(server: WebhookServer) -> Starlette:
    async def review(request: Request) -> dict[str, Any]:
        body = await request.json()
        server.reviews.setdefault(request.url.path, []).append(body["request"])
        return dict(body["request"])

    async def add_label(request: Request) -> Response:
        req = await review(request)
        label = request.path_params["label"]
        labels = ((req.get("object") or {}).get("metadata") or {}).get("labels")
        if labels is not None and label in labels:
            return _answer(req, allowed=True)
        if labels is None:
            ops = [{"op": "add", "path": "/metadata/labels", "value": {label: "yes"}}]
        else:
            ops = [{"op": "add", "path": f"/metadata/labels/{label}", "value": "yes"}]
        return _answer(
            req,
            allowed=True,
            patchType="JSONPatch",
            patch=_patch(ops),
            warnings=[f"added label {label}"],
        )

    async def validate(request: Request) -> Response:
        req = await review(request)
        name = ((req.get("object") or {}).get("metadata") or {}).get("name")
        if name == "forbidden":
            status = {"code": 403, "reason": "Forbidden", "message": "the name is not allowed"}
            return _answer(req, allowed=False, status=status)
        return _answer(req, allowed=True, warnings=["looked at it"])

    async def deny(request: Request) -> Response:
        return _answer(await review(request), allowed=False)

    async def slow(request: Request) -> Response:
        req = await review(request)
        await server.release.wait()
        return _answer(req, allowed=True)

    async def wrong_uid(request: Request) -> Response:
        req = await review(request)
        return _answer({**req, "uid": "not-the-uid"}, allowed=True)

    async def error(request: Request) -> Response:
        await review(request)
        return PlainTextResponse("boom", status_code=500)

    async def patch_always(request: Request) -> Response:
        req = await review(request)
        ops = [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]
        return _answer(req, allowed=True, patchType="JSONPatch", patch=_patch(ops))

    return Starlette(
        routes=[
            Route("/add/{label}", add_label, methods=["POST"]),
            Route("/validate", validate, methods=["POST"]),
            Route("/validate/{tag}", validate, methods=["POST"]),
            Route("/deny", deny, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
            Route("/wrong-uid", wrong_uid, methods=["POST"]),
            Route("/error", error, methods=["POST"]),
            Route("/patch-always", patch_always, methods=["POST"]),
        ]
    )


@contextlib.asynccontextmanager
async def serve_webhooks(
    ca: pki.CertPaths, directory: Path, names: list[str]
) -> AsyncIterator[WebhookServer]:
    """Serve the webhooks over HTTPS with a certificate from ``ca`` for 127.0.0.1 and ``names``."""
    serving = pki.ensure_serving_cert(directory, ca, "webhook", ["127.0.0.1", *names])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = WebhookServer(
        port=sock.getsockname()[1], ca_bundle=base64.b64encode(ca.cert.read_bytes()).decode()
    )
    config = uvicorn.Config(
        _app(server),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ssl_certfile=str(serving.cert),
        ssl_keyfile=str(serving.key),
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.release.set()
        uv.should_exit = True
        for conn in list(uv.server_state.connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.abort()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        sock.close()


@dataclass
class ThreadedWebhooks:
    """``serve_webhooks`` running in a thread: ``server`` while it runs, ``stop`` to end it."""

    server: WebhookServer
    _loop: asyncio.AbstractEventLoop
    _done: asyncio.Event
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving (idempotent): connections are cut, the port is closed."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._done.set)
            self._thread.join(10)
            assert not self._thread.is_alive(), "the webhook server did not stop within 10s"


@contextlib.contextmanager
def webhooks_in_thread(
    ca: pki.CertPaths, directory: Path, names: list[str]
) -> Iterator[ThreadedWebhooks]:
    """``serve_webhooks`` in a thread of its own, for synchronous tests; stopped on exit."""
    loop = asyncio.new_event_loop()
    done = asyncio.Event()
    started: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        try:
            async with serve_webhooks(ca, directory, names) as server:
                started["server"] = server
                ready.set()
                await done.wait()
        except BaseException as exc:  # handed to the starting thread
            started["error"] = exc
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(30) or "error" in started:
        loop.call_soon_threadsafe(done.set)
        thread.join(10)
        loop.close()
        raise RuntimeError("the webhook server did not start") from started.get("error")
    running = ThreadedWebhooks(started["server"], loop, done, thread)
    try:
        yield running
    finally:
        running.stop()
        loop.close()
