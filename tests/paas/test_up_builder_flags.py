"""What ``paas up`` tells its builder: only a Docker cluster builds Dockerfiles.

The process runtime runs slugs only, so ``paas up`` on it starts the builder
with ``--no-dockerfile-builds``, and the builder's flags become its settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from support.upcredentials import kubeconfigs_in

from paas.cli.builder import configure_parser, settings_from_args
from paas.up.components import UpComponents
from paas.up.settings import UpSettings


def builder_settings(argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return settings_from_args(parser.parse_args(argv))


@pytest.mark.parametrize(("runtime", "dockerfile_builds"), [("process", False), ("docker", True)])
def test_up_lets_the_builder_build_dockerfiles_only_on_docker(
    tmp_path: Path, runtime: str, dockerfile_builds: bool
) -> None:
    settings = UpSettings(data_dir=tmp_path, runtime=runtime)
    components = UpComponents(settings, kubeconfigs_in(tmp_path))
    argv = components._builder_argv()
    settings = builder_settings(argv[argv.index("builder") + 1 :])
    assert settings.dockerfile_builds is dockerfile_builds


def test_the_builders_memory_limit_is_given_in_mib() -> None:
    assert builder_settings(["--build-memory", "512"]).build_memory == 512 << 20
    with pytest.raises(ValueError, match="--build-memory 8: at least 64"):
        builder_settings(["--build-memory", "8"])
