"""Builds of pushed branches: one at a time per branch, the newest push winning.

``BranchLocks`` is what the git server holds across a whole ``POST
git-receive-pack`` (spool, CGI, hooks, ref update), per (namespace, app,
branch), so that two pushes to one branch never build at once and the
second one's hook sees where the first one left the ref. A push that
arrives while an older one holds the branch cancels the older one's build
(it is superseded: the pusher of the older one sees why and its push is
refused), then waits for the lock.

``BuildService.build`` is what a hook's ``POST /internal/builds`` runs: it
records a Build (Running), runs the build child (``runner.BuildProcess``),
sends each output line to the hook as it comes (and to the Build's log
file), records how it ended, and finishes with the URL the branch is served
at. The deploy itself is the App controller's, from the Build's result:
the Build is annotated with its slug's release command before it is marked
Succeeded, and the push then follows the deploy (``deploywait``) until the
new version serves, or refuses the push with the reason it did not.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder import metrics, names, records
from builder.buildrun import BuildContext
from builder.deploywait import follow_deploy
from builder.kinds import RELEASE_ANNOTATION, main_branch
from builder.pushbuild import slug_dir
from builder.runner import BuildProcess, Outcome
from builder.settings import BuilderSettings
from builder.slugs import IMAGE_RE, SlugError, SlugStore
from orchestrator.api import errors
from orchestrator.client.rest import APIClient

Key = tuple[str, str, str]  # namespace, app, branch


@dataclass
class _Branch:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0  # newer pushes queued behind the holder
    build: BuildProcess | None = None  # the holder's build, while it runs


class BranchLocks:
    def __init__(self) -> None:
        self._branches: dict[Key, _Branch] = {}

    def _get(self, key: Key) -> _Branch:
        return self._branches.setdefault(key, _Branch())

    async def acquire(self, keys: list[Key]) -> None:
        """Hold every branch in ``keys`` (sorted: two pushes never wait on each other)."""
        for key in sorted(set(keys)):
            branch = self._get(key)
            if branch.lock.locked():
                branch.waiting += 1
                if branch.build is not None:
                    branch.build.cancel("superseded by a newer push to this branch")
                try:
                    await branch.lock.acquire()
                finally:
                    branch.waiting -= 1
            else:
                await branch.lock.acquire()

    def release(self, keys: list[Key]) -> None:
        for key in sorted(set(keys)):
            branch = self._branches.get(key)
            if branch is not None and branch.lock.locked():
                branch.lock.release()
                if branch.waiting == 0 and branch.build is None:
                    del self._branches[key]

    def running(self, key: Key, build: BuildProcess | None) -> None:
        """Record the build the branch's holder runs (None once it ended)."""
        branch = self._get(key)
        branch.build = build
        if build is not None and branch.waiting:
            build.cancel("superseded by a newer push to this branch")


def event(**fields: Any) -> bytes:
    return json.dumps(fields).encode() + b"\n"


class BuildService:
    def __init__(
        self, settings: BuilderSettings, client: APIClient, locks: BranchLocks, public_url: str
    ) -> None:
        self.settings = settings
        self.client = client
        self.locks = locks
        self.public_url = public_url

    def log_path(self, namespace: str, name: str) -> Path:
        return self.settings.build_logs / namespace / f"{name}.log"

    async def build(
        self, namespace: str, app_name: str, branch: str, commit: str, source: Path
    ) -> AsyncIterator[bytes]:
        """The hook's stream: ``{"line": ...}`` events, then ``{"ok": bool}``."""
        app = await records.get_app(self.client, namespace, app_name)
        if app is None:
            yield event(line=f" !     app {app_name} was deleted during the push", ok=False)
            return
        log_url = f"{self.public_url}/builds/{namespace}/{{name}}/log"
        build = await records.start_build(self.client, app, branch, commit, log_url)
        name = build["metadata"]["name"]
        log_file = self.log_path(namespace, name)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        async def on_line(line: str) -> None:
            queue.put_nowait("       " + line)

        context = BuildContext(
            namespace=namespace,
            app=app_name,
            branch=branch,
            commit=commit,
            data_dir=str(self.settings.data_dir),
            builder_url=self.public_url,
            time_limit_s=self.settings.build_timeout,
            memory_bytes=self.settings.build_memory,
            dockerfile_builds=self.settings.dockerfile_builds,
            registry=self.settings.registry,
        )
        process = BuildProcess(self.settings, source, context)
        key = (namespace, app_name, branch)
        self.locks.running(key, process)

        async def run() -> Outcome:
            started = time.monotonic()
            try:
                outcome = await process.run(on_line)
            finally:
                queue.put_nowait(None)
            metrics.BUILDS.labels(outcome.phase).inc()
            metrics.BUILD_DURATION.labels(outcome.phase).observe(time.monotonic() - started)
            return outcome

        with log_file.open("a", encoding="utf-8") as log:

            def show(line: str) -> bytes:
                log.write(line + "\n")
                log.flush()
                return event(line=line)

            yield show(f"-----> Building {branch} ({commit[:7]}) of {app_name}: build {name}")
            task = asyncio.create_task(run())
            try:
                while (line := await queue.get()) is not None:
                    yield show(line)
                outcome = await task
            finally:
                if not task.done():  # the hook went away: stop the build
                    process.cancel("the push was interrupted")
                    outcome = await task
                self.locks.running(key, None)
                await self._record(build, outcome)
            if outcome.phase == "Succeeded":
                url = names.url(
                    app_name,
                    branch,
                    main_branch=main_branch(app),
                    namespace=namespace,
                    domain=self.settings.domain,
                    http_port=self.settings.http_port,
                )
                yield show(f"-----> Built {outcome.result}")
                ok, live = False, False
                async for step in follow_deploy(
                    self.client, namespace, name, timeout=self.settings.deploy_timeout
                ):
                    yield show(step.line)
                    ok, live = bool(step.ok), step.live
                if ok and live:
                    yield show(f"-----> {branch} is live at {url}")
                elif ok:
                    yield show(f"-----> {branch} will be served at {url}")
                else:
                    yield show(" !     The push is refused; what was live stays live.")
                metrics.PUSHES.labels("deployed" if ok else "refused").inc()
                yield event(ok=ok)
                return
            word = "cancelled" if outcome.phase == "Cancelled" else "failed"
            yield show(f" !     Build {word}: {outcome.message}")
            yield show(" !     Nothing was deployed; what was live stays live.")
            metrics.PUSHES.labels("refused").inc()
            yield event(ok=False)

    def release_of(self, result: str) -> str:
        """The release command of the slug ``result`` ("" for none, or for an image)."""
        match = IMAGE_RE.match(result)
        if match is None:
            return ""
        try:
            meta = SlugStore(slug_dir(self.settings.data_dir)).read_meta(match.group(1))
        except (OSError, SlugError, ValueError):
            return ""
        return str(meta.get("release") or "")

    async def _record(self, build: dict[str, Any], outcome: Outcome) -> None:
        try:
            if outcome.phase == "Succeeded":  # before the phase: the deploy starts from it
                release = await asyncio.to_thread(self.release_of, outcome.result)
                await records.annotate_build(self.client, build, {RELEASE_ANNOTATION: release})
            await records.finish_build(
                self.client,
                build,
                outcome.phase,
                result=outcome.result,
                message=outcome.message,
            )
        except errors.NotFound:
            pass  # the App (and so its Builds) was deleted meanwhile

    async def delete_branch(self, namespace: str, app: str, branch: str) -> AsyncIterator[bytes]:
        gone = await records.delete_branch(self.client, namespace, app, branch)
        yield event(line=f"-----> Deleted branch {branch} of {app}: {len(gone)} objects removed")
        for what in gone:
            yield event(line=f"       {what}")
        yield event(ok=True)
