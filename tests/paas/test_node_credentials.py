"""``paas node`` takes its credential from a file, never from its command line.

A kubeconfig (what ``paas up`` gives its node) names the API, the CA and the
token; ``--join`` with ``--token-file`` is the manual way; ``--token`` still
works for old scripts but says, on stderr, that every local user can read it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.client.config import write_kubeconfig
from paas.cli.node import (
    TOKEN_FLAG_WARNING,
    NodeCredentialError,
    add_node_parser,
    client_config,
)

ROOT = Path(__file__).resolve().parents[2]
CA = b"-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_node_parser(parser.add_subparsers())
    return parser.parse_args(["node", *argv])


def test_a_kubeconfig_gives_the_node_its_api_ca_and_token(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "node.kubeconfig"
    write_kubeconfig(kubeconfig, server="https://10.0.0.1:6443/", token="n0de", ca_pem=CA)
    config = client_config(parse("--kubeconfig", str(kubeconfig)))
    assert (config.server, config.token, config.ca_data) == ("https://10.0.0.1:6443", "n0de", CA)


def test_a_token_file_and_join_url_stand_in_for_a_kubeconfig(tmp_path: Path) -> None:
    token = tmp_path / "node.token"
    token.write_text("t0ken\n")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(CA)
    args = parse("--join", "https://h:1", "--token-file", str(token), "--ca", str(ca))
    config = client_config(args)
    assert (config.server, config.token, config.ca_data) == ("https://h:1", "t0ken", CA)


def test_the_token_flag_still_works_but_warns_that_everyone_can_read_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = client_config(parse("--join", "https://h:1", "--token", "visible", "--insecure"))
    assert config.token == "visible"
    warning = capsys.readouterr().err
    assert warning.strip() == TOKEN_FLAG_WARNING
    assert "every local user can read it" in warning and "--token-file" in warning


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ((), "give --kubeconfig FILE, or --join URL and --token-file FILE"),
        (("--join", "https://h:1"), "give --kubeconfig FILE"),
        (("--token-file", "/nonexistent/token"), "cannot read --token-file /nonexistent/token"),
        (("--kubeconfig", "/nonexistent/kubeconfig"), "kubeconfig /nonexistent/kubeconfig does"),
    ],
)
def test_a_missing_credential_is_refused_saying_what_to_give(
    argv: tuple[str, ...], says: str
) -> None:
    with pytest.raises(NodeCredentialError) as caught:
        client_config(parse(*argv))
    assert says in str(caught.value)


def test_a_token_file_and_a_token_flag_together_are_refused(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("a")
    with pytest.raises(NodeCredentialError, match="--token-file or --token, not both"):
        client_config(parse("--join", "https://h:1", "--token-file", str(token), "--token", "b"))


def test_an_empty_token_file_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("\n")
    with pytest.raises(NodeCredentialError, match="is empty"):
        client_config(parse("--join", "https://h:1", "--token-file", str(token)))


def test_paas_node_without_a_credential_exits_2_naming_the_flags(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paas", "node", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert "paas node: give --kubeconfig FILE, or --join URL and --token-file FILE" in done.stderr
