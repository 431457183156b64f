"""Dependency caches keyed by the lockfile: a code-only push reuses installed dependencies."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from support.slugserver import EXAMPLES

from builder.build import BuildSettings, build
from builder.slugs import SlugStore


def timed_build(source: Path, settings: BuildSettings) -> tuple[float, list[str], str]:
    lines: list[str] = []
    started = time.monotonic()
    result = build(source, lines.append, settings)
    assert not result.reused
    return time.monotonic() - started, lines, result.digest


def test_a_push_changing_only_app_code_reuses_the_installed_dependencies(
    tmp_path: Path, build_settings: BuildSettings
) -> None:
    source = tmp_path / "src"
    shutil.copytree(EXAMPLES / "python-flask", source)
    cold, cold_log, first = timed_build(source, build_settings)
    assert any("Installing dependencies with pip" in line for line in cold_log)
    (source / "app.py").write_text((source / "app.py").read_text().replace("Hello", "Hi"))
    warm, warm_log, second = timed_build(source, build_settings)
    assert any("Reusing dependencies (requirements.txt unchanged" in line for line in warm_log)
    assert not any("pip" in line for line in warm_log)
    assert second != first
    store = SlugStore(build_settings.slug_dir)
    assert store.read_meta(second)["processes"] == store.read_meta(first)["processes"]
    print(f"python-flask build: cold {cold:.2f} s, code-only change {warm:.2f} s")


def test_a_changed_lockfile_installs_again(tmp_path: Path, build_settings: BuildSettings) -> None:
    source = tmp_path / "src"
    shutil.copytree(EXAMPLES / "node-hello", source)
    _, first_log, _ = timed_build(source, build_settings)
    package = (source / "package.json").read_text()
    (source / "package.json").write_text(package.replace('"private": true', '"private": false'))
    _, second_log, _ = timed_build(source, build_settings)
    assert any("npm ci" in line for line in first_log)
    assert any("npm ci" in line for line in second_log)
