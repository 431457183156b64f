"""The Docker runtime's translations, without an engine: names, specs, states, log lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.kubelet.runtimes.base import ContainerSpec, PortMapping, SandboxSpec
from orchestrator.kubelet.runtimes.dockerlogs import LineAssembler, assemble, render
from orchestrator.kubelet.runtimes.dockerspec import (
    container_name,
    docker_time,
    entrypoint_and_cmd,
    environment,
    executable_candidates,
    fixed_stamp,
    host_ports,
    legacy_network_name,
    sandbox_from_inspect,
    sandbox_labels,
    sandbox_name,
    state_from_inspect,
)


def spec(**kwargs: Any) -> ContainerSpec:
    fields: dict[str, Any] = {
        "pod_uid": "u-1",
        "namespace": "default",
        "pod_name": "web",
        "name": "app",
        "attempt": 2,
        "image": "paas/stack:bookworm",
    }
    fields.update(kwargs)
    return ContainerSpec(**fields)


def test_names_carry_the_project_prefix() -> None:
    assert legacy_network_name("Node.One") == "paas-node.one"
    sandbox = SandboxSpec(pod_uid="u-1", namespace="default", name="web", hostname="web")
    assert sandbox_name(sandbox) == "paas_POD_web_default_u-1"
    assert container_name(spec()) == "paas_app_web_default_u-1_2"


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ((), (), (None, None)),  # the image's entrypoint and cmd
        ((), ("serve", "--port=1"), (None, ["serve", "--port=1"])),  # the image's entrypoint
        (("python3",), (), (["python3"], None)),  # the engine then drops the image's cmd
        (("python3", "-c"), ("print(1)",), (["python3", "-c"], ["print(1)"])),
    ],
)
def test_command_and_args_as_kubernetes_means_them(
    command: tuple[str, ...], args: tuple[str, ...], expected: tuple[Any, Any]
) -> None:
    assert entrypoint_and_cmd(spec(command=command, args=args)) == expected


def test_a_later_env_entry_wins() -> None:
    env = (("A", "1"), ("B", "2"), ("A", "3"))
    assert environment(spec(env=env)) == ["B=2", "A=3"]


@pytest.mark.parametrize(
    ("program", "workdir", "expected"),
    [
        ("python3", "/", ["/usr/bin/python3", "/bin/python3"]),
        ("./run.sh", "/srv/app", ["/srv/app/run.sh"]),
        ("/opt/x/../bin/tool", "/", ["/opt/bin/tool"]),
    ],
)
def test_executable_candidates(program: str, workdir: str, expected: list[str]) -> None:
    assert executable_candidates(program, "/usr/bin:/bin", workdir) == expected


def inspect(status: str, **state: Any) -> dict[str, Any]:
    return {
        "Id": "abc",
        "Image": "sha256:1",
        "Config": {
            "Image": "paas/stack:bookworm",
            "Labels": {
                "paas.dev/pod-uid": "u-1",
                "paas.dev/container-name": "app",
                "paas.dev/attempt": "3",
                "paas.dev/init": "true",
            },
        },
        "State": {
            "Status": status,
            "StartedAt": "2026-11-22T07:00:00.5Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
            **state,
        },
    }


@pytest.mark.parametrize(
    ("status", "state", "expected"),
    [
        ("running", {}, ("running", None, "")),
        ("created", {}, ("created", None, "")),
        ("exited", {"ExitCode": 0}, ("exited", 0, "Completed")),
        ("exited", {"ExitCode": 2}, ("exited", 2, "Error")),
        ("exited", {"ExitCode": 137, "OOMKilled": True}, ("exited", 137, "OOMKilled")),
        ("exited", {"ExitCode": 127, "Error": "exec: no"}, ("exited", 127, "ContainerCannotRun")),
        ("dead", {"ExitCode": 1}, ("exited", 1, "Error")),
        ("removing", {}, ("unknown", None, "")),
    ],
)
def test_state_from_inspect(status: str, state: dict[str, Any], expected: tuple[Any, ...]) -> None:
    seen = state_from_inspect(inspect(status, **state))
    assert (seen.status, seen.exit_code, seen.reason) == expected
    assert (seen.id, seen.pod_uid, seen.name, seen.attempt, seen.init) == (
        "docker://abc",
        "u-1",
        "app",
        3,
        True,
    )
    assert seen.started_at == datetime(2026, 11, 22, 7, 0, 0, 500000, tzinfo=UTC)


def test_finished_time_of_an_exited_container() -> None:
    seen = state_from_inspect(inspect("exited", ExitCode=0, FinishedAt="2026-11-22T07:00:01Z"))
    assert seen.finished_at == datetime(2026, 11, 22, 7, 0, 1, tzinfo=UTC)
    assert docker_time("0001-01-01T00:00:00Z") is None


def test_a_container_that_exited_at_once_never_finishes_before_it_started() -> None:
    """The engine may stamp StartedAt after FinishedAt for such a container (moby #45445)."""
    seen = state_from_inspect(
        inspect(
            "exited",
            ExitCode=3,
            StartedAt="2026-11-22T07:00:00.5Z",
            FinishedAt="2026-11-22T07:00:00.495Z",
        )
    )
    assert (
        seen.finished_at == seen.started_at == datetime(2026, 11, 22, 7, 0, 0, 500000, tzinfo=UTC)
    )


def test_a_sandbox_carries_its_address_and_host_ports_in_its_labels() -> None:
    pod = SandboxSpec(
        pod_uid="u-1",
        namespace="default",
        name="web",
        hostname="web",
        port_mappings=(PortMapping(8000, 30080, "TCP", "127.0.0.1"),),
    )
    info = {
        "Id": "s1",
        "Config": {"Labels": sandbox_labels("n", pod, "10.202.7.2")},
        "State": {"Status": "running"},
        "HostConfig": {"NetworkMode": "none"},
    }
    sandbox = sandbox_from_inspect(info, "192.0.2.2")
    assert (sandbox.id, sandbox.ip, sandbox.ready) == ("docker://s1", "10.202.7.2", True)
    assert host_ports(info) == [PortMapping(8000, 30080, "TCP", "127.0.0.1")]
    info["HostConfig"] = {"NetworkMode": "host"}
    assert sandbox_from_inspect(info, "192.0.2.2").ip == "192.0.2.2"
    info["State"] = {"Status": "exited"}
    assert not sandbox_from_inspect(info, "192.0.2.2").ready
    info["Config"]["Labels"]["paas.dev/host-ports"] = "not json"
    assert host_ports(info) == []


def test_stamps_get_nine_fraction_digits() -> None:
    assert fixed_stamp(b"2026-11-22T07:00:00.12Z") == b"2026-11-22T07:00:00.120000000Z"
    assert fixed_stamp(b"2026-11-22T07:00:00Z") == b"2026-11-22T07:00:00.000000000Z"


def test_frames_become_whole_lines() -> None:
    frames = [
        b"2026-11-22T07:00:00.1Z one\n",
        b"2026-11-22T07:00:00.2Z lo",  # a long line the engine cut in two
        b"2026-11-22T07:00:00.3Z ng\n",
        b"2026-11-22T07:00:00.4Z unfinished",
    ]
    lines = assemble(frames)
    assert [text for _, text in lines] == [b"one\n", b"long\n", b"unfinished"]
    assert render(lines[1], True) == b"2026-11-22T07:00:00.200000000Z long\n"
    since = datetime(2026, 11, 22, 7, 0, 0, 150000, tzinfo=UTC)
    assert [text for _, text in assemble(frames, since)] == [b"long\n", b"unfinished"]


def test_follow_skips_what_the_tail_showed() -> None:
    assembler = LineAssembler(after=b"2026-11-22T07:00:00.200000000Z")
    assert assembler.feed(b"2026-11-22T07:00:00.2Z shown\n") is None
    assert assembler.feed(b"2026-11-22T07:00:00.25Z new\n") == (
        b"2026-11-22T07:00:00.250000000Z",
        b"new\n",
    )
