"""``paas stack build`` keeps an image that is present (the session fixture builds it)."""

from __future__ import annotations

import pytest

from paas.cli.main import main

pytestmark = pytest.mark.docker


def test_stack_build_keeps_a_present_image(
    stack_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stack", "build"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{stack_image} is present (sha256:") and "--force" in out
