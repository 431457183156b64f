"""The preflight's choice of runtime and network mode, for machines of every kind."""

from __future__ import annotations

import pytest

from paas.cli.preflight import (
    ROOT_MODE_TOOLS,
    Machine,
    Plan,
    PreflightError,
    missing_tools_text,
    plan,
)

ALL = frozenset(t.command for t in ROOT_MODE_TOOLS)
NO_IPTABLES = ALL - {"iptables", "iptables-save", "iptables-restore"}


def machine(*, root: bool = True, found: frozenset[str] = ALL, docker: bool = False) -> Machine:
    return Machine(root=root, found=found, docker=docker)


@pytest.mark.parametrize(
    ("runtime", "network", "m", "want"),
    [
        # root with every tool: root mode, Docker where an engine answers
        ("auto", "auto", machine(), Plan("process", "root")),
        ("auto", "auto", machine(docker=True), Plan("docker", "root")),
        ("process", "root", machine(docker=True), Plan("process", "root")),
        ("docker", "auto", machine(docker=True), Plan("docker", "root")),
        ("auto", "loopback", machine(), Plan("process", "loopback")),
        # simulated nodes touch nothing: the mode only picks the address ranges
        ("simulated", "auto", machine(found=frozenset()), Plan("simulated", "root")),
        ("simulated", "auto", machine(root=False), Plan("simulated", "loopback")),
        ("simulated", "root", machine(root=False), Plan("simulated", "root")),
    ],
)
def test_what_can_run_runs_as_asked(runtime: str, network: str, m: Machine, want: Plan) -> None:
    got = plan(runtime, network, m)
    assert (got.runtime, got.network) == (want.runtime, want.network)
    if runtime != "auto" or not m.docker or network != "loopback":
        assert got.notes == ()


def test_auto_without_iptables_is_loopback_and_says_which_packages_enable_root_mode() -> None:
    got = plan("auto", "auto", machine(found=NO_IPTABLES))
    assert (got.runtime, got.network) == ("process", "loopback")
    (note,) = got.notes
    assert note.startswith("network: loopback mode")
    assert "iptables, iptables-save, iptables-restore (package iptables) not found" in note
    assert "apt-get install iptables" in note


def test_auto_without_root_is_loopback_and_says_so() -> None:
    got = plan("auto", "auto", machine(root=False, found=frozenset()))
    assert (got.runtime, got.network) == ("process", "loopback")
    assert got.notes == ("network: loopback mode: root mode cannot run: not running as root",)


def test_an_engine_is_passed_over_when_root_mode_cannot_run_and_one_line_says_why() -> None:
    got = plan("auto", "auto", machine(found=ALL - {"conntrack"}, docker=True))
    assert (got.runtime, got.network) == ("process", "loopback")
    (note,) = got.notes
    assert "process runtime" in note and "Docker pods need too" in note
    assert "conntrack (package conntrack) not found" in note


def test_loopback_asked_for_with_an_engine_runs_processes_and_says_why() -> None:
    got = plan("auto", "loopback", machine(docker=True))
    assert (got.runtime, got.network) == ("process", "loopback")
    assert got.notes == ("runtime: process, not Docker: Docker pods need root mode",)


def test_docker_without_root_is_refused_and_auto_runs_processes() -> None:
    """A user in the docker group: the node could not wire its pods' namespaces."""
    with pytest.raises(
        PreflightError, match=r"--runtime docker needs root mode.*not running as root"
    ):
        plan("docker", "auto", machine(root=False, found=frozenset(), docker=True))
    got = plan("auto", "auto", machine(root=False, found=frozenset(), docker=True))
    assert (got.runtime, got.network) == ("process", "loopback")


@pytest.mark.parametrize(
    ("runtime", "network", "m", "words"),
    [
        ("auto", "root", machine(found=NO_IPTABLES), ["--network root", "package iptables"]),
        ("process", "root", machine(root=False), ["--network root", "not running as root"]),
        (
            "docker",
            "auto",
            machine(found=ALL - {"ip"}, docker=True),
            ["--runtime docker needs root mode", "ip (package iproute2) not found"],
        ),
        ("docker", "auto", machine(), ["no Docker engine answers", "docker.io"]),
        ("docker", "loopback", machine(), ["--network loopback is for the process runtime"]),
        ("docker", "loopback", machine(docker=True), ["--network loopback is for the process"]),
        ("podman", "auto", machine(), ["--runtime podman: not one of"]),
        ("auto", "bridge", machine(), ["--network bridge: not one of"]),
    ],
)
def test_what_cannot_run_is_refused_naming_the_flag_and_what_is_missing(
    runtime: str, network: str, m: Machine, words: list[str]
) -> None:
    with pytest.raises(PreflightError) as caught:
        plan(runtime, network, m)
    for word in words:
        assert word in str(caught.value)


def test_missing_tools_are_grouped_by_their_package() -> None:
    missing = [t for t in ROOT_MODE_TOOLS if t.command in ("iptables", "conntrack", "ip")]
    assert missing_tools_text(missing) == (
        "ip (package iproute2); iptables (package iptables); conntrack (package conntrack) "
        "not found"
    )


def test_probe_looks_on_path_and_asks_the_engine_only_through_the_callable() -> None:
    asked: list[bool] = []

    def docker() -> bool:
        asked.append(True)
        return False

    m = Machine.probe(docker=docker, docker_url="unix:///x", which=lambda cmd: None)
    assert m.found == frozenset() and m.docker is False and asked == [True]
    assert m.missing() == list(ROOT_MODE_TOOLS)
