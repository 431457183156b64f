"""Fixtures of the builder's tests: build settings in tmp_path, a git server beside
``sqlite_api``, and a developer with git."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support.apiserver import RunningAPI
from support.gitpush import GitUser, RunningBuilder, start_builder

from builder.build import BuildSettings
from builder.settings import BuilderSettings

SLUGBUILD = str(Path(__file__).with_name("slugbuild.py")) + ":build"


@pytest.fixture
def build_settings(tmp_path: Path) -> BuildSettings:
    return BuildSettings(
        slug_dir=tmp_path / "slugs", cache_dir=tmp_path / "cache", work_dir=tmp_path
    )


@pytest.fixture
def builder_settings(tmp_path: Path) -> BuilderSettings:
    return BuilderSettings(
        data_dir=tmp_path / "builder",
        build_function=SLUGBUILD,
        http_port=8080,
        build_timeout=60,
        cancel_grace=1,
    )


@pytest.fixture
def builder(sqlite_api: RunningAPI, builder_settings: BuilderSettings) -> Iterator[RunningBuilder]:
    running = start_builder(sqlite_api, builder_settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def short_builds(
    sqlite_api: RunningAPI, builder_settings: BuilderSettings
) -> Iterator[RunningBuilder]:
    """A builder whose builds stop after 2 s (a build that runs forever)."""
    running = start_builder(sqlite_api, replace(builder_settings, build_timeout=2))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def dev(tmp_path: Path) -> GitUser:
    return GitUser(tmp_path / "home")
