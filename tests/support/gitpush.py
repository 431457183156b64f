"""A real builder on loopback beside a real API server, and the real git client to push.

The builder runs in a thread with its own event loop (as the API server
fixture does), with the platform's CRDs applied. ``GitUser`` runs ``git``
with a clean home, no terminal prompts, and the token in the remote URL.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.server import BuilderServer
from builder.settings import BuilderSettings
from orchestrator.client.rest import APIClient
from paas.up.definitions import install_definitions, platform_definitions
from support.apiserver import RunningAPI


@dataclass
class RunningBuilder:
    url: str
    api: RunningAPI
    server: BuilderServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def remote(self, app: str, token: str | None = None, user: str = "me") -> str:
        host = self.url.removeprefix("http://")
        return f"http://{user}:{self.api.token if token is None else token}@{host}/{app}.git"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)

    async def _stop(self) -> None:
        await self.server.stop()
        await self.server.client.close()


def start_builder(api: RunningAPI, settings: BuilderSettings) -> RunningBuilder:
    loop = asyncio.new_event_loop()
    box: dict[str, object] = {}
    ready = threading.Event()

    async def boot() -> None:
        try:
            client = APIClient(api.client_config())
            await install_definitions(client, platform_definitions())
            server = BuilderServer(settings, client)
            box["url"] = await server.start()
            box["server"] = server
        except BaseException as exc:
            box["error"] = exc
        finally:
            ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        booting = loop.create_task(boot())
        loop.run_forever()
        booting.cancel()
        loop.close()

    thread = threading.Thread(target=run, name="builder", daemon=True)
    thread.start()
    assert ready.wait(60), "the builder did not start"
    if "error" in box:
        raise RuntimeError("the builder failed to start") from box["error"]  # type: ignore[arg-type]
    return RunningBuilder(str(box["url"]), api, box["server"], loop, thread)  # type: ignore[arg-type]


class GitUser:
    """Someone with a clone: ``git(...)`` runs in the work tree, ``push`` returns the result."""

    def __init__(self, home: Path, name: str = "dev") -> None:
        self.home = home
        self.tree = home / name
        self.tree.mkdir(parents=True)
        self.env = {
            "HOME": str(home),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": f"{name}@example.test",
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": f"{name}@example.test",
        }
        self.git("init", "-q", "-b", "main")

    def git(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, content in files.items():
            (self.tree / name).write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, remote: str, *refspecs: str) -> subprocess.CompletedProcess[str]:
        return self.git("push", remote, *refspecs, check=False)


def app_obj(builder: RunningBuilder, app: str, namespace: str = "default") -> dict[str, Any]:
    with builder.api.http() as http:
        r = http.get(f"/apis/paas.dev/v1/namespaces/{namespace}/apps/{app}")
    assert r.status_code == 200, r.text
    return r.json()


def builds_of(
    builder: RunningBuilder, app: str, namespace: str = "default"
) -> list[dict[str, Any]]:
    with builder.api.http() as http:
        r = http.get(
            f"/apis/paas.dev/v1/namespaces/{namespace}/builds",
            params={"labelSelector": f"paas.dev/app={app}"},
        )
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=_created)


def _created(build: dict[str, Any]) -> tuple[str, int]:
    meta = build["metadata"]
    return meta["creationTimestamp"], int(meta["resourceVersion"])
