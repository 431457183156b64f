"""``paas up``'s image registry: run on Docker only, on loopback, from a config of our own.

The component list, the argv and the config are checked as data; the last
test runs the real ``docker-registry`` from that config under the
supervisor and asks it the readiness question ``paas up`` asks.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.registry import registry_binary
from support.upcredentials import kubeconfigs_in

from paas.cli.builder import configure_parser, settings_from_args
from paas.cli.up import registry_binary as find_registry
from paas.supervisor import Supervisor
from paas.up.components import UpComponents
from paas.up.settings import UpSettings


def components(tmp_path: Path, runtime: str, **fields: Any) -> UpComponents:
    settings = UpSettings(data_dir=tmp_path, runtime=runtime, **fields)
    return UpComponents(settings, kubeconfigs_in(tmp_path))


def names(comps: UpComponents) -> list[str]:
    return [c.name for c in comps.all()]


def builder_registry(comps: UpComponents) -> str:
    argv = comps._builder_argv()
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return settings_from_args(parser.parse_args(argv[argv.index("builder") + 1 :])).registry


def test_only_the_docker_runtime_runs_the_registry_and_before_the_builder(
    tmp_path: Path,
) -> None:
    docker = names(components(tmp_path, "docker", registry_binary="/usr/bin/docker-registry"))
    assert docker.index("registry") < docker.index("builder")
    assert "registry" not in names(components(tmp_path, "process", registry_binary="/x"))
    assert "registry" not in names(components(tmp_path, "docker", registry_binary=""))


def test_the_builder_pushes_to_the_registry_address_up_chose(tmp_path: Path) -> None:
    comps = components(tmp_path, "docker", registry_binary="docker-registry", registry_port=5123)
    assert comps._registry_argv()[1:] == ["serve", str(tmp_path / "registry" / "config.yml")]
    assert builder_registry(comps) == "127.0.0.1:5123"
    assert (tmp_path / "run" / "registry.url").read_text() == "http://127.0.0.1:5123"


def test_without_a_registry_the_builder_keeps_images_on_its_engine(tmp_path: Path) -> None:
    assert builder_registry(components(tmp_path, "docker")) == ""


def test_a_free_registry_port_is_picked_once_and_kept_across_restarts(tmp_path: Path) -> None:
    comps = components(tmp_path, "docker", registry_binary="docker-registry", registry_port=0)
    comps._registry_argv()
    first = comps.addresses.registry
    comps._registry_argv()  # what a restart of the component reads
    assert comps.addresses.registry == first
    assert int(first.rpartition(":")[2]) > 0


def test_the_registry_listens_on_loopback_and_stores_under_the_data_dir(tmp_path: Path) -> None:
    comps = components(
        tmp_path, "docker", host="0.0.0.0", registry_binary="docker-registry", registry_port=5124
    )
    config = yaml.safe_load(Path(comps._registry_argv()[2]).read_text())
    assert config["http"]["addr"] == "127.0.0.1:5124"  # trusted over HTTP by engines: 127/8
    assert config["storage"]["filesystem"]["rootdirectory"] == str(
        tmp_path / "registry" / "storage"
    )
    assert "auth" not in config  # the package's own config asks for htpasswd


def test_without_docker_registry_installed_up_says_images_stay_on_one_node(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    binary, notes = find_registry("docker")
    assert binary == ""
    assert "stay on the engine that built them" in notes[0]
    assert "apt-get install docker-registry" in notes[0]
    assert find_registry("process") == ("", ())


def test_the_builder_refuses_a_registry_given_as_a_url() -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    with pytest.raises(ValueError, match="give HOST:PORT"):
        settings_from_args(parser.parse_args(["--registry", "http://127.0.0.1:5000"]))


async def test_the_registry_runs_from_our_config_and_is_ready_when_v2_answers(
    tmp_path: Path,
) -> None:
    comps = components(tmp_path, "docker", registry_binary=registry_binary(), registry_port=0)
    [registry] = [c for c in comps.all() if c.name == "registry"]
    supervisor = Supervisor()
    supervisor.add(registry)
    try:
        await supervisor.start(registry, timeout=20)
        assert await registry.ready()
    finally:
        supervisor.stop()
    assert registry.process is not None and registry.process.returncode is not None
    assert (tmp_path / "registry" / "storage").is_dir()
