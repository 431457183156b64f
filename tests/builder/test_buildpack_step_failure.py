"""A failed build step says which step and why, in the one line the pusher sees last."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.buildpacks.base import BuildContext, Tools, step_name
from builder.cache import DependencyCache
from builder.errors import BuildFailed


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/usr/bin/docker", "build", "--label", "x", "-t", "t", "."], "docker build"),
        (
            ["python3", "-m", "pip", "install", "--no-input", "-r", "r.txt"],
            "python3 -m pip install",
        ),
        (["npm", "run", "build"], "npm run build"),
        (["npm", "ci", "--cache", "c"], "npm ci"),
    ],
)
def test_a_step_is_named_by_its_words_before_the_first_option(argv: list[str], name: str) -> None:
    assert step_name(argv) == name


def test_a_failed_step_ends_its_error_with_its_last_line_of_output(tmp_path: Path) -> None:
    lines: list[str] = []
    ctx = BuildContext(tmp_path, tmp_path, DependencyCache(tmp_path / "c"), Tools(), lines.append)
    script = "echo working; echo \"ERROR: Invalid requirement: 'x!'\"; echo; exit 3"
    with pytest.raises(BuildFailed) as failed:
        ctx.run(["sh", "-c", script], cwd=tmp_path)
    assert str(failed.value) == (
        "sh exited with 3: ERROR: Invalid requirement: 'x!' (its output is above)"
    )
    assert lines[:2] == ["       working", "       ERROR: Invalid requirement: 'x!'"]
