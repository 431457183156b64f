"""Each example builds into a slug that the real process runtime fetches over HTTP and serves.

The builder's store is served on loopback as the builder serves it; a
process runtime (loopback mode, as on a laptop) with that URL as its slug
source fetches the slug into its own directory on ``ensure_image``,
unpacks it and starts its ``slug.json`` command there: the slug runs
from a directory it was not built in. The app must answer 200 on the
pod's address and ``PORT``.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from support.slugserver import EXAMPLES, serve_slugs
from support.wait import eventually_async

from builder.build import BuildFailed, BuildSettings, build
from builder.slugs import SlugStore
from orchestrator.kubelet.runtimes.base import ContainerSpec, SandboxSpec
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except OSError:
        return 0, ""


async def serve_with_runtime(tmp_path: Path, store: SlugStore, image: str) -> tuple[int, str]:
    """Run ``image`` as a pod of a fresh process runtime fetching from ``store``; GET / on it."""
    async with serve_slugs(store) as url:
        settings = ProcessRuntimeSettings(
            network="loopback",
            isolation="off",
            exit_poll_interval=0.1,
            slug_dir=tmp_path / "node-slugs",
            slug_source=url,
        )
        runtime = ProcessRuntime(tmp_path / "node", f"bp-{uuid.uuid4().hex[:6]}", settings)
        await runtime.start("")
        try:
            sandbox = await runtime.run_sandbox(
                SandboxSpec(
                    pod_uid=str(uuid.uuid4()), namespace="default", name="web", hostname="web"
                )
            )
            port = free_port(sandbox.ip)
            spec = ContainerSpec(
                pod_uid=sandbox.pod_uid,
                namespace="default",
                pod_name="web",
                name="web",
                attempt=0,
                image=image,
                env=(("PORT", str(port)), ("HOST", sandbox.ip)),
            )
            assert await runtime.ensure_image(spec) == image
            await runtime.start_container(sandbox, spec)
            address = f"http://{sandbox.ip}:{port}/"

            async def answered() -> tuple[int, str] | None:
                status, body = await asyncio.to_thread(get, address)
                return (status, body) if status else None

            return await eventually_async(
                answered,
                timeout=30,
                message=f"{image} did not answer on {sandbox.ip}:{port}",
            )
        finally:
            await runtime.teardown()


@pytest.mark.parametrize(
    ("example", "detected", "expected"),
    [
        ("python-flask", "python", "Hello from Python"),
        ("node-hello", "node", "Hello from Node.js"),
        ("static-site", "static", "Hello from a static site"),
    ],
)
async def test_an_example_builds_into_a_slug_the_process_runtime_fetches_and_serves(
    tmp_path: Path, build_settings: BuildSettings, example: str, detected: str, expected: str
) -> None:
    lines: list[str] = []
    result = await asyncio.to_thread(build, EXAMPLES / example, lines.append, build_settings)
    assert result.detected == detected and not result.reused
    assert result.image == f"slug:sha256:{result.digest}"
    assert any(line.startswith("-----> web: ") for line in lines)
    store = SlugStore(build_settings.slug_dir)
    assert store.has(result.digest)
    status, body = await serve_with_runtime(tmp_path, store, result.image)
    assert status == 200 and expected in body
    fetched = tmp_path / "node-slugs" / f"sha256-{result.digest}"
    assert (fetched / "slug.json").is_file()
    assert str(build_settings.slug_dir) not in (fetched / "slug.json").read_text()


def test_the_procfile_release_line_is_recorded_in_slug_json(build_settings: BuildSettings) -> None:
    result = build(EXAMPLES / "python-flask", lambda line: None, build_settings)
    meta = SlugStore(build_settings.slug_dir).read_meta(result.digest)
    assert meta["release"] == "python3 -c \"print('release phase: nothing to migrate')\""
    assert meta["entrypoint"] == ["/bin/sh", "$SLUG_DIR/.paas/run"]
    assert meta["env"]["PYTHONPATH"] == "$SLUG_DIR/python"  # type: ignore[index]


def test_a_dockerfile_without_an_engine_fails_saying_so(
    build_settings: BuildSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(BuildFailed, match="has a Dockerfile, but no Docker engine answers"):
        build(EXAMPLES / "dockerfile-app", lambda line: None, build_settings)


def test_a_dockerfile_where_nodes_run_slugs_only_is_refused_before_any_docker_build(
    build_settings: BuildSettings,
) -> None:
    lines: list[str] = []
    settings = replace(build_settings, dockerfile_builds=False, docker="/nonexistent/docker")
    with pytest.raises(BuildFailed, match="nodes run the process runtime, which runs buildpack"):
        build(EXAMPLES / "dockerfile-app", lines.append, settings)
    assert not any("Docker engine" in line for line in lines), lines
