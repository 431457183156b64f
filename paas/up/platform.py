"""``paas up``'s run: start the components in order, supervise them, stop and clean up.

Start-up takes the components of ``UpComponents.all`` one at a time: each
is spawned and waited for until ready; the API server's readiness writes
the kubeconfig, and each component that serves an ``endpoints.json`` key
adds its URL to the file. A component that dies or is not ready in time
while starting ends ``paas up`` with its last error line and log path
(``StartFailed``): a half-started platform is not "up". Once all are ready
the banner is printed and the supervisor restarts whatever dies, reporting
each exit with its last error line.

Stopping (Ctrl-C, SIGTERM, or a failed start) stops every component, then,
when the node agent did not end cleanly (it crashed, was killed, or never
finished starting), runs ``paas node --teardown`` for it: its pods, their
network namespaces, the node bridge, the service route and the rules go,
whatever state the agent left them in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from orchestrator.api import errors
from orchestrator.client.config import write_kubeconfig
from paas.supervisor import StartFailed, Supervisor
from paas.up import gitroute
from paas.up.banner import banner, is_root
from paas.up.components import UpComponent, UpComponents, read_address
from paas.up.datadir import ensure_credentials, write_component_kubeconfigs
from paas.up.definitions import install_definitions, platform_definitions
from paas.up.example import ExampleFailed, ExampleSettings, deploy_example
from paas.up.metricstargets import MetricsTargets
from paas.up.roles import apply_roles, monitoring_roles, platform_roles
from paas.up.settings import UpSettings

log = logging.getLogger(__name__)
TEARDOWN_TIMEOUT = 120.0  # removing a node's pods and network; Docker may be slow


class Interrupted(Exception):
    """Stopped (Ctrl-C, SIGTERM) before everything was up."""


def write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


class Platform:
    def __init__(self, settings: UpSettings, say: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.say = say
        self.supervisor = Supervisor()
        self.components: UpComponents | None = None
        self.endpoints_path = settings.data_dir / "endpoints.json"
        self.targets = MetricsTargets(settings)  # metrics-targets.json, for Prometheus

    async def run(self, stop: asyncio.Event) -> int:
        """Everything, until ``stop`` is set; the exit status of ``paas up``."""
        s = self.settings
        started = time.monotonic()
        self.components = comps = UpComponents(s, ensure_credentials(s))
        run = s.run_dir
        for stale in (
            run / "apiserver.url",
            run / "dns.url",
            run / "router.url",
            run / "registry.url",
            self.endpoints_path,
        ):
            stale.unlink(missing_ok=True)
        self.targets.clear()
        status = 0
        example: asyncio.Task[None] | None = None
        try:
            for component in comps.all():
                self.supervisor.add(component)
                await self._until(stop, self.supervisor.start(component, s.ready_timeout))
                await self._ready(component)
            await self._refresh_targets()
            for line in banner(s, comps.addresses, time.monotonic() - started, root=is_root()):
                self.say(line)
            sys.stdout.flush()
            example = self._start_example()
            refreshed = time.monotonic()
            while not stop.is_set():
                self.supervisor.tick()
                if time.monotonic() - refreshed >= s.metrics_targets_interval:
                    await self._refresh_targets()  # a restarted component's new port
                    refreshed = time.monotonic()
                await _wait(stop, 0.2)
        except StartFailed as exc:
            print(f"paas up: {exc}", file=sys.stderr, flush=True)
            status = 1
        except Interrupted:
            pass
        finally:
            if example is not None:
                example.cancel()
                await asyncio.gather(example, return_exceptions=True)
            await comps.close()
            await asyncio.to_thread(self.supervisor.stop)
            await asyncio.to_thread(self._teardown_node)
            self.endpoints_path.unlink(missing_ok=True)
        self.say("paas stopped.")
        return status

    async def _refresh_targets(self) -> None:
        comps = self.components
        assert comps is not None
        try:
            await self.targets.refresh(comps.addresses.api, comps.client)
        except (errors.APIError, OSError) as exc:
            log.warning("writing metrics-targets.json failed: %s", exc)

    @staticmethod
    async def _until(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
        """``work``, unless ``stop`` comes first (then ``Interrupted``)."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise Interrupted
        task.result()

    async def _ready(self, component: UpComponent) -> None:
        """What a component's readiness makes possible: the kubeconfig, endpoints.json."""
        comps = self.components
        assert comps is not None
        s = self.settings
        if component.name == "apiserver":
            write_kubeconfig(
                s.kubeconfig,
                server=comps.addresses.api,
                token=comps.credentials.admin_token,
                ca_pem=s.ca.read_bytes(),
            )
            write_component_kubeconfigs(comps.credentials, comps.addresses.api, s.ca.read_bytes())
            await comps.read_boot_ids()
            assert comps.client is not None
            try:
                await install_definitions(comps.client, platform_definitions())
            except (errors.APIError, TimeoutError) as exc:
                raise StartFailed(
                    f"applying the platform's CustomResourceDefinitions: {exc}"
                ) from exc
            await self._apply_roles()
        if component.name == "dns":
            comps.addresses.dns = read_address(component.address_file)
        if component.endpoint:
            comps.addresses.endpoints[component.endpoint] = read_address(component.address_file)
        if component.name == "builder":
            comps.addresses.builder = read_address(component.address_file)
            comps.addresses.endpoints["git"] = await self._publish_git(comps.addresses.builder)
        if component.endpoint:
            write_json(self.endpoints_path, comps.addresses.endpoints)

    async def _apply_roles(self) -> None:
        """Each component's rights (paas/up/roles.py), before any component starts."""
        comps = self.components
        assert comps is not None and comps.client is not None
        try:
            applied = await apply_roles(comps.client, [*platform_roles(), *monitoring_roles()])
        except errors.APIError as exc:
            raise StartFailed(f"applying the components' roles: {exc}") from exc
        if not applied:
            self.say("roles: this API server serves no RBAC; the components' roles wait for it")

    def _start_example(self) -> asyncio.Task[None] | None:
        """``--example DIR``: push it beside the supervisor loop (paas/up/example.py)."""
        s, comps = self.settings, self.components
        assert comps is not None
        endpoints = comps.addresses.endpoints
        if s.example is None:
            return None
        if "git" not in endpoints or "http" not in endpoints:
            self.say("example: not pushed: this platform serves no git remote or router")
            return None
        settings = ExampleSettings(
            source=s.example,
            repo=s.data_dir / "example" / s.example.name,
            log=s.logs / "example-push.log",
            git_base=endpoints["git"],
            router=endpoints["http"],
            domain=s.domain,
            kubeconfig=s.kubeconfig,
        )

        def say(line: str) -> None:
            self.say(line)
            sys.stdout.flush()  # each step as it happens, also into a log file

        async def run() -> None:
            try:
                await deploy_example(settings, say)
            except ExampleFailed as exc:
                say(f"example: {settings.app} is not live: {exc}")

        return asyncio.create_task(run(), name="example")

    async def _publish_git(self, builder: str) -> str:
        """The git remote base: ``git.<domain>`` through the router once it answers."""
        comps = self.components
        assert comps is not None and comps.client is not None
        router = comps.addresses.endpoints.get("http", "")
        try:
            await gitroute.publish(
                comps.client, gitroute.git_objects(builder, self.settings.domain)
            )
        except errors.APIError as exc:
            self.say(f"builder: not published at git.{self.settings.domain}: {exc}")
            return builder
        published = await gitroute.published_url(router, self.settings.domain) if router else ""
        if not published:
            self.say(f"builder: git.{self.settings.domain} does not answer yet; using {builder}")
        return published or builder

    def _teardown_node(self) -> None:
        """``paas node --teardown`` when the node agent did not clean up after itself."""
        if self.components is None or self.settings.runtime == "simulated":
            return
        node = next((c for c in self.supervisor.components if c.name == "node"), None)
        if node is None or node.process is None or node.process.returncode == 0:
            return
        with node.log_path.open("ab") as out:
            try:
                done = subprocess.run(
                    self.components.node_argv("--teardown"),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=TEARDOWN_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                self.say(
                    f"node: cleaning up took over {TEARDOWN_TIMEOUT:.0f}s; see {node.log_path}"
                )
                return
        if done.returncode == 0:
            self.say("node: removed what it left (pods, network namespaces, bridge, route, rules)")
        else:
            self.say(f"node: could not remove all it left; see {node.log_path}")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass
