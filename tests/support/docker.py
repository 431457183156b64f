"""Docker fixtures: the engine (or a skip / a CI failure), the stack image, runtimes per node.

Registered for the whole suite from ``tests/conftest.py`` (``pytest_plugins``):

- ``docker_engine`` (session): the engine's URL; skips without an engine,
  fails in CI (``require_engine``).
- ``stack_image`` (session): makes sure ``paas/stack:bookworm`` exists,
  building it once when missing (about 40 s; the build takes a machine-wide
  lock, so parallel sessions build it once between them).
- ``docker_runtimes`` (function): a factory ``await make(node_name=None,
  pod_cidr=None, settings=None)`` of started ``DockerRuntime``s. A second call
  with the same node name gets the same pod CIDR (a restarted agent). At the
  end every runtime is closed and every node's containers, network and
  firewall rules are removed (``purge_node``).
- ``docker_runtime`` (function): one started runtime on a fresh node.

Pod CIDRs are /24s drawn from ``DOCKER_TEST_RANGE`` that no route and no
Docker network uses yet.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import docker
import docker.errors
import pytest

from orchestrator.kubelet.runtimes.base import STACK_IMAGE
from orchestrator.kubelet.runtimes.docker import (
    DockerRuntime,
    DockerSettings,
    engine_answers,
    purge_node,
)
from orchestrator.kubelet.stack import StackBuildError, StackSettings, build_stack_image
from support.engines import require_engine
from support.parallel import worker_share

DOCKER_URL = "unix:///var/run/docker.sock"
DOCKER_TEST_RANGE = "10.202.0.0/16"
log = logging.getLogger(__name__)

MakeRuntime = Callable[..., Awaitable[DockerRuntime]]


def docker_available(url: str = DOCKER_URL) -> bool:
    return engine_answers(url, timeout=5)


def used_networks(url: str = DOCKER_URL) -> list[ipaddress.IPv4Network]:
    """Every IPv4 range a route or a Docker network holds on this machine."""
    found: list[ipaddress.IPv4Network] = []
    routes = subprocess.run(["ip", "-4", "-o", "route", "show"], capture_output=True, text=True)
    for line in routes.stdout.splitlines():
        dest = line.split()[0] if line.split() else ""
        if dest != "default":
            try:
                found.append(ipaddress.IPv4Network(dest, strict=False))
            except ValueError:
                continue
    if not docker_available(url):
        return found  # no engine: no Docker networks (and no half-open SDK socket)
    client = docker.DockerClient(base_url=url, timeout=10)
    try:
        for net in client.api.networks():
            for config in (net.get("IPAM") or {}).get("Config") or []:
                try:
                    found.append(ipaddress.IPv4Network(config.get("Subnet", ""), strict=False))
                except ValueError:
                    continue
    finally:
        client.close()
    return found


def free_pod_cidr(within: str = DOCKER_TEST_RANGE, url: str = DOCKER_URL) -> str:
    """A /24 of ``within`` that nothing on this machine routes or uses yet."""
    used = used_networks(url)
    candidates = worker_share(list(ipaddress.IPv4Network(within).subnets(new_prefix=24)))
    random.shuffle(candidates)
    for net in candidates:
        if not any(net.overlaps(other) for other in used):
            return str(net)
    raise RuntimeError(f"no free /24 left in {within}")


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The engine's URL; a skip without one (a failure when CI requires engines)."""
    require_engine("docker", docker_available(), f"no Docker engine answers at {DOCKER_URL}")
    return DOCKER_URL


@pytest.fixture(scope="session")
def stack_image(docker_engine: str) -> str:
    """``paas/stack:bookworm``, built once when the engine does not have it."""
    try:
        result = build_stack_image(StackSettings(docker_url=docker_engine), progress=log.info)
    except StackBuildError as exc:  # no mmdebstrap, no mirror: a skip here, a failure in CI
        require_engine("the stack image", False, f"cannot build {STACK_IMAGE}: {exc}")
        raise
    if result.built:
        log.warning("built %s in %.0fs", result.image, result.seconds)
    return STACK_IMAGE


@pytest.fixture
async def docker_runtimes(docker_engine: str, stack_image: str) -> AsyncIterator[MakeRuntime]:
    """A factory of started runtimes; everything of their nodes is removed afterwards."""
    started: list[DockerRuntime] = []
    cidrs: dict[str, str] = {}

    async def make(
        node_name: str | None = None,
        pod_cidr: str | None = None,
        settings: DockerSettings | None = None,
    ) -> DockerRuntime:
        name = node_name or f"test-{uuid.uuid4().hex[:8]}"
        cidr = pod_cidr or cidrs.get(name) or free_pod_cidr(url=docker_engine)
        cidrs[name] = cidr
        runtime = DockerRuntime(name, settings or DockerSettings(docker_url=docker_engine))
        started.append(runtime)
        await runtime.start(cidr)
        return runtime

    try:
        yield make
    finally:
        for runtime in started:
            await runtime.close()
        for name in cidrs:
            purge_node(name, docker_engine)


@pytest.fixture
async def docker_runtime(docker_runtimes: MakeRuntime) -> DockerRuntime:
    """One started runtime on a fresh node (cleaned up with the factory)."""
    return await docker_runtimes()
