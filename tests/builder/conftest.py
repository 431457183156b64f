"""Fixtures of the builder's tests: build settings in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.build import BuildSettings


@pytest.fixture
def build_settings(tmp_path: Path) -> BuildSettings:
    return BuildSettings(
        slug_dir=tmp_path / "slugs", cache_dir=tmp_path / "cache", work_dir=tmp_path
    )
