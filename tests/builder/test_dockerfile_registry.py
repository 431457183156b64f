"""Dockerfile builds push to the platform's registry and deploy the image pinned by digest.

A real Docker engine builds ``examples/dockerfile-app``, and a real
``docker-registry`` on loopback receives it. The build's result is
``<registry>/<namespace>/<app>@sha256:<manifest digest>``; the same source
is then neither built nor pushed again, even once the engine has forgotten
the image (the registry is asked, not the engine). A registry that does
not answer fails the build before anything is built; one that refuses the
push fails it with the registry's address and docker's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support.registry import RunningRegistry, dead_address, forget_images, start_registry

from builder.build import BuildFailed, BuildResult, BuildSettings, build

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REPOSITORY = "default/dockerfile-app"

pytestmark = pytest.mark.docker


@pytest.fixture
def registry(tmp_path: Path, stack_image: str) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path / "registry")
    try:
        yield running
    finally:
        running.stop()
        forget_images(running.address)


def pushing(build_settings: BuildSettings, address: str) -> BuildSettings:
    return replace(build_settings, image_name=REPOSITORY, registry=address)


def run_build(settings: BuildSettings) -> tuple[BuildResult, list[str]]:
    lines: list[str] = []
    result = build(EXAMPLES / "dockerfile-app", lines.append, settings)
    return result, lines


def test_a_dockerfile_image_is_pushed_and_deployed_pinned_by_its_digest(
    build_settings: BuildSettings, registry: RunningRegistry
) -> None:
    result, lines = run_build(pushing(build_settings, registry.address))
    pinned = re.fullmatch(
        rf"{re.escape(registry.address)}/{REPOSITORY}@(sha256:[0-9a-f]{{64}})", result.image
    )
    assert pinned, result.image
    assert registry.tags(REPOSITORY) == [result.digest[:12]]  # tagged by the source's digest
    assert f"-----> Pushing {registry.address}/{REPOSITORY}:{result.digest[:12]}" in lines
    assert not result.reused


def test_the_same_source_is_not_rebuilt_or_pushed_again_even_once_the_engine_forgot_it(
    build_settings: BuildSettings, registry: RunningRegistry
) -> None:
    settings = pushing(build_settings, registry.address)
    first, _ = run_build(settings)
    forget_images(registry.address)  # what another node's engine knows: nothing
    again, lines = run_build(settings)
    assert again.image == first.image
    assert again.reused
    assert any("already in the registry" in line for line in lines), lines
    assert not any("docker build" in line or "Pushing" in line for line in lines), lines


def test_a_registry_that_does_not_answer_fails_the_build_before_anything_is_built(
    build_settings: BuildSettings, stack_image: str
) -> None:
    address = dead_address()
    lines: list[str] = []
    with pytest.raises(BuildFailed, match=f"registry at {re.escape(address)} did not answer"):
        build(EXAMPLES / "dockerfile-app", lines.append, pushing(build_settings, address))
    assert not any("Building" in line for line in lines), lines


def test_a_push_the_registry_refuses_fails_the_build_with_the_registrys_words(
    build_settings: BuildSettings, tmp_path: Path, stack_image: str
) -> None:
    refusing = start_registry(tmp_path / "read-only", read_only=True)
    try:
        with pytest.raises(BuildFailed) as failed:
            run_build(pushing(build_settings, refusing.address))
    finally:
        refusing.stop()
        forget_images(refusing.address)
    message = str(failed.value)
    assert f"could not be pushed to the registry at {refusing.address}" in message, message
    assert "docker push" in message and "exited with 1" in message, message
    assert "Method not allowed" in message, message  # the read-only registry's answer
