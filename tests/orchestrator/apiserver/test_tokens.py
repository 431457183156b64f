"""Tokens are safe to pass on a command line and are stored only as hashes."""

import json
from pathlib import Path

from orchestrator.apiserver.auth import TokenAuthenticator, add_token, hash_token, new_token


def test_tokens_never_look_like_a_flag() -> None:
    # `paas node --token T` failed whenever a token began with "-" (argparse took it
    # for an option): one node start in 64 with the earlier URL-safe alphabet.
    tokens = [new_token() for _ in range(2000)]
    assert not any(t.startswith("-") for t in tokens)
    assert all(len(t) == 64 and set(t) <= set("0123456789abcdef") for t in tokens)


def test_token_file_holds_hashes_and_authenticates_the_plain_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token = add_token(path, user="alice", groups=["team-a"])
    assert token not in path.read_text()
    assert json.loads(path.read_text())["tokens"][0]["groups"] == ["team-a"]
    assert path.stat().st_mode & 0o777 == 0o600
    auth = TokenAuthenticator(path)
    user = auth.authenticate(f"Bearer {token}")
    assert user is not None and user.name == "alice"
    assert user.groups == ("team-a", "system:authenticated")
    assert auth.authenticate("Bearer not-a-token") is None
    assert auth.authenticate(None) is None


def test_a_token_added_while_serving_works_on_its_first_use(tmp_path: Path) -> None:
    """A node joining right after ``paas up`` wrote its token was refused once (Unauthorized)."""
    path = tmp_path / "tokens.json"
    admin = add_token(path, user="admin", groups=["system:masters"])
    auth = TokenAuthenticator(path)
    assert auth.authenticate(f"Bearer {admin}") is not None  # the file is read and cached now
    node = add_token(path, user="system:node:n1", groups=["system:nodes"])
    user = auth.authenticate(f"Bearer {node}")
    assert user is not None and user.name == "system:node:n1"


def test_rows_written_with_a_role_keep_their_groups(tmp_path: Path) -> None:
    """Data dirs from before users had groups: ``role`` rows still authenticate as before."""
    path = tmp_path / "tokens.json"
    rows = [{"sha256": hash_token("a" * 64), "user": "admin", "role": "admin"}]
    path.write_text(json.dumps({"tokens": rows}))
    user = TokenAuthenticator(path).authenticate("Bearer " + "a" * 64)
    assert user is not None and user.is_master
