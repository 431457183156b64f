"""``BuilderServer``: the builder's ASGI app on a socket it binds itself.

Binding before uvicorn starts makes ``port=0`` work and the real address
known at once (``start()`` returns it). The hooks reach the process on
loopback at that port, with a secret made per process: a restarted
builder refuses a hook of the one before (its push fails and can be
pushed again).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket

import uvicorn

from builder.auth import TokenReviewer
from builder.gitserver import BuilderDeps, create_app, hook_python
from builder.pushes import BranchLocks, BuildService
from builder.repos import Repositories
from builder.settings import BuilderSettings
from orchestrator.client.rest import APIClient


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.setblocking(False)
    return sock


class BuilderServer:
    def __init__(self, settings: BuilderSettings, client: APIClient) -> None:
        self.settings = settings
        self.client = client
        self.url = ""
        self.deps: BuilderDeps | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        s = self.settings
        for folder in (s.repos, s.build_logs, s.work):
            folder.mkdir(parents=True, exist_ok=True)
        sock = bind(s.host, s.port)
        host, port = sock.getsockname()[:2]
        loopback = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        shown = f"[{loopback}]" if ":" in loopback else loopback
        self.url = f"http://{shown}:{port}"
        public = s.public_url.rstrip("/") or self.url
        locks = BranchLocks()
        self.deps = BuilderDeps(
            settings=s,
            client=self.client,
            reviewer=TokenReviewer(self.client, s.auth_cache_seconds),
            repos=Repositories(s.repos, hook_python()),
            locks=locks,
            service=BuildService(s, self.client, locks, public),
            hook_url=self.url,
            hook_secret=secrets.token_hex(32),
            environ={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        )
        config = uvicorn.Config(
            create_app(self.deps),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="builder-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self.url

    async def wait(self) -> None:
        assert self._task is not None
        await self._task

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)
        if self.deps is not None:
            for proc in list(self.deps.children):  # a CGI and its hook and build
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            for task in list(self.deps.tasks):
                task.cancel()
