"""Node identities: ``paas token create --node NAME`` and the node token ``paas up`` makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.apiserver.auth import TokenAuthenticator, add_token
from orchestrator.apiserver.identity import node_name_of
from paas.cli.main import main
from paas.up.datadir import ensure_node_token


def test_token_create_node_authenticates_as_that_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "create", "--node", "n1", "--data-dir", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    user = TokenAuthenticator(tmp_path / "tokens.json").authenticate_token(token)
    assert user is not None
    assert user.name == "system:node:n1"
    assert set(user.groups) == {"system:nodes", "system:authenticated"}
    assert node_name_of(user) == "n1"


def test_token_create_node_refuses_a_second_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "create", "--node", "n1", "--user", "alice", "--data-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "--node names the user" in capsys.readouterr().err
    assert not (tmp_path / "tokens.json").exists()


def test_paas_up_keeps_its_node_token_and_replaces_one_for_another_identity(
    tmp_path: Path,
) -> None:
    tokens = tmp_path / "tokens.json"
    legacy = add_token(tokens, user="node", groups=["system:nodes"])  # as older versions made it
    (tmp_path / "node.token").write_text(legacy + "\n")
    token = ensure_node_token(tmp_path, "box")
    assert token != legacy
    auth = TokenAuthenticator(tokens)
    user = auth.authenticate_token(token)
    assert user is not None and node_name_of(user) == "box"
    assert ensure_node_token(tmp_path, "box") == token  # kept across restarts
    renamed = ensure_node_token(tmp_path, "other")
    assert renamed != token
    users = [row["user"] for row in json.loads(tokens.read_text())["tokens"]]
    assert users == ["node", "system:node:box", "system:node:other"]
    assert (tmp_path / "node.token").stat().st_mode & 0o777 == 0o600
