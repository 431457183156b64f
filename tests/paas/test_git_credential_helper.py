"""git's credential helper: the kubeconfig's token on ``get``, and a quick start.

git runs the helper twice in every push, so it must not load the whole CLI
(that was 1.7 s of a 4.6 s push); ``paas git-credential`` answers the same.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator.client.config import write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]


def helper(*argv: str, stdin: str = "protocol=http\nhost=git.localhost:8080\n\n") -> str:
    done = subprocess.run(
        [sys.executable, *argv], input=stdin, capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_get_answers_the_kubeconfigs_token_and_store_answers_nothing(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    write_kubeconfig(config, server="https://127.0.0.1:1", token="t0ken", ca_pem=b"")
    for entry in (["-m", "paas.cli.gitcredential"], ["-m", "paas", "git-credential"]):
        assert (
            helper(*entry, "--kubeconfig", str(config), "get") == "username=paas\npassword=t0ken\n"
        )
        assert helper(*entry, "--kubeconfig", str(config), "store") == ""


def test_the_helper_does_not_load_the_whole_cli() -> None:
    loaded = helper(
        "-c",
        "import sys, paas.cli.gitcredential; "
        "heavy = ('paas.cli.main', 'httpx', 'builder'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))",
        stdin="",
    )
    assert loaded == "[]\n"
