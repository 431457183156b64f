"""Choosing the container and reading the options of exec and attach (pure functions)."""

from __future__ import annotations

import pytest

from orchestrator.api import errors
from orchestrator.apiserver.podcontainers import choose_container
from orchestrator.apiserver.streams.channels import negotiate, status_as_text
from orchestrator.apiserver.streams.target import parse_options


def _pod(*names: str, default: str = "", inits: tuple[str, ...] = ()) -> dict[str, object]:
    meta: dict[str, object] = {"name": "web"}
    if default:
        meta["annotations"] = {"kubectl.kubernetes.io/default-container": default}
    spec = {
        "containers": [{"name": n} for n in names],
        "initContainers": [{"name": n} for n in inits],
    }
    return {"metadata": meta, "spec": spec}


@pytest.mark.parametrize(
    ("pod", "wanted", "chosen"),
    [
        (_pod("app"), "", "app"),
        (_pod("a", "b"), "b", "b"),
        (_pod("a", "b", default="b"), "", "b"),
        (_pod("a", "b", default="b"), "a", "a"),
        (_pod("a", inits=("setup",)), "setup", "setup"),
    ],
)
def test_the_container_is_named_defaulted_by_annotation_or_the_only_one(
    pod: dict[str, object], wanted: str, chosen: str
) -> None:
    assert choose_container(pod, wanted) == chosen


@pytest.mark.parametrize(
    ("pod", "wanted", "message"),
    [
        (
            _pod("a", "b"),
            "",
            "a container name must be specified for pod web, choose one of: [a b]",
        ),
        (
            _pod("a", "b", inits=("setup",)),
            "",
            "a container name must be specified for pod web, choose one of: [a b] "
            "or one of the init containers: [setup]",
        ),
        (_pod("a", "b", default="gone"), "", "choose one of: [a b]"),
        (_pod("a"), "x", "container x is not valid for pod web"),
    ],
)
def test_an_unclear_container_is_refused(pod: dict[str, object], wanted: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        choose_container(pod, wanted)
    assert message in caught.value.message


def test_exec_options_keep_the_command_in_order_and_read_kubectl_booleans() -> None:
    query = [("command", "sh"), ("command", "-c"), ("command", "exit 3"), ("stdin", "true")]
    query += [("stdout", "1"), ("tty", "false"), ("container", "app")]
    opts = parse_options("exec", query)
    assert opts.command == ("sh", "-c", "exit 3")
    assert (opts.stdin, opts.stdout, opts.stderr, opts.tty) == (True, True, False, False)
    assert opts.container == "app"


def test_error_channel_status_becomes_text_for_old_protocols() -> None:
    failure = b'{"status":"Failure","message":"command terminated with non-zero exit code"}'
    assert status_as_text(failure) == b"command terminated with non-zero exit code"
    assert status_as_text(b'{"metadata":{},"status":"Success"}') == b""


def test_the_first_offered_protocol_we_speak_is_chosen() -> None:
    supported = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
    assert negotiate(["v4.channel.k8s.io", "v5.channel.k8s.io"], supported) == "v4.channel.k8s.io"
    assert negotiate(["v9.x, v5.channel.k8s.io"], supported) == "v5.channel.k8s.io"
    assert negotiate(["v9.x"], supported) is None
