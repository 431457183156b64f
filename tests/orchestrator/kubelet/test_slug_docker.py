"""Slugs on the Docker runtime: the stack image with the slug mounted at /slug, fetched first.

The pure part (how slug.json becomes the engine's create arguments) needs
no engine; the example's end to end (build the static example, serve the
store on loopback, the Docker runtime fetches and runs it, GET its pod IP)
is marked ``docker``.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from pathlib import Path

import pytest
from support.docker import MakeRuntime
from support.slugserver import EXAMPLES, serve_slugs
from support.wait import eventually_async

from builder.build import BuildSettings, build
from builder.slugs import SlugStore
from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, SandboxSpec
from orchestrator.kubelet.runtimes.docker import DockerSettings
from orchestrator.kubelet.runtimes.dockerslugs import SlugSource, slug_container

DIGEST = "ef" * 32


def spec(**kw: object) -> ContainerSpec:
    fields: dict[str, object] = dict(
        pod_uid="u", namespace="default", pod_name="p", name="c", attempt=0,
        image=f"slug:sha256:{DIGEST}", env=(("PORT", "8000"),),
    )  # fmt: skip
    fields.update(kw)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


def test_a_slug_container_is_the_stack_image_running_slug_json_from_slash_slug(
    tmp_path: Path,
) -> None:
    (tmp_path / "slug.json").write_text(
        json.dumps(
            {
                "entrypoint": ["/bin/sh", "$SLUG_DIR/.paas/run"],
                "cmd": ["exec web"],
                "env": {"SLUG_DIR": "$SLUG_DIR", "PORT": "1"},
                "working_dir": "app",
            }
        )
    )
    plain = slug_container(spec(), tmp_path)
    assert plain.image == STACK_IMAGE and plain.host_path == str(tmp_path)
    assert plain.entrypoint == ["/bin/sh", "/slug/.paas/run"] and plain.cmd == ["exec web"]
    assert plain.working_dir == "/slug/app"
    assert dict(plain.env) == {"SLUG_DIR": "/slug", "PORT": "8000"}  # the pod's value wins
    worker = slug_container(spec(args=("exec worker",)), tmp_path)
    assert worker.entrypoint == ["/bin/sh", "/slug/.paas/run"] and worker.cmd == ["exec worker"]
    own = slug_container(spec(command=("sleep",), args=("1",)), tmp_path)
    assert own.entrypoint == ["sleep"] and own.cmd == ["1"]


@pytest.mark.docker
async def test_the_docker_runtime_fetches_a_static_slug_and_serves_it(
    tmp_path: Path, docker_runtimes: MakeRuntime, docker_engine: str, stack_image: str
) -> None:
    settings = BuildSettings(slug_dir=tmp_path / "store", cache_dir=tmp_path / "cache")
    result = await asyncio.to_thread(build, EXAMPLES / "static-site", lambda line: None, settings)
    async with serve_slugs(SlugStore(settings.slug_dir)) as url:
        slugs = SlugSource(slug_dir=tmp_path / "node-slugs", source=url)
        runtime = await docker_runtimes(
            settings=DockerSettings(docker_url=docker_engine, slugs=slugs)
        )
        uid = str(uuid.uuid4())
        sandbox = await runtime.run_sandbox(
            SandboxSpec(pod_uid=uid, namespace="default", name="site", hostname="site")
        )
        web = spec(pod_uid=uid, pod_name="site", name="web", image=result.image)
        assert await runtime.ensure_image(web) == result.image
        await runtime.start_container(sandbox, web)

    def get() -> str | None:
        try:
            with urllib.request.urlopen(f"http://{sandbox.ip}:8000/", timeout=2) as response:
                return response.read().decode()
        except OSError:
            return None

    async def check() -> str | None:
        return await asyncio.to_thread(get)

    body = await eventually_async(check, timeout=30, message="the slug did not serve on Docker")
    assert "Hello from a static site" in body
