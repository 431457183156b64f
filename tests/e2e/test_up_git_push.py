"""``git push`` to the builder that ``paas up`` starts: the path from the banner to a Build.

``paas up`` serves git (endpoints.json ``git``, a banner line); in a fresh
repository ``paas git-remote`` adds the remote with the admin kubeconfig's
credential helper, and ``git push paas main`` reaches the builder, makes
the App and a Build, and streams the build's lines. The tree pushed here is
one nothing recognises, so the push fails with the reason and the branch
stays unpushed, whichever build function is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.gitpush import GitUser
from support.paasup import Up, start_up


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with start_up(tmp_path / "paas", "process", "--network", "loopback") as running:
        yield running


def test_a_push_through_paas_up_records_a_build_and_refuses_what_cannot_build(
    up: Up, tmp_path: Path
) -> None:
    endpoints = json.loads((up.data_dir / "endpoints.json").read_text())
    git = endpoints["git"]  # through the router, Heroku-style
    assert git == "http://git.localhost:" + endpoints["http"].rsplit(":", 1)[1]
    assert f"git:        {git}/<app>.git" in up.log()
    dev = GitUser(tmp_path / "home")
    dev.commit({"README": "nothing to build here\n"})
    remote = subprocess.run(
        [
            sys.executable,
            "-m",
            "paas",
            "git-remote",
            "hello",
            "--data-dir",
            str(up.data_dir),
            "--kubeconfig",
            str(up.data_dir / "kubeconfig"),
        ],
        cwd=dev.tree,
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert remote.returncode == 0, remote.stderr
    done = dev.push("paas", "main")
    assert done.returncode == 1, done.stderr
    assert "remote: -----> Building main" in done.stderr, done.stderr
    assert "Nothing was deployed" in done.stderr
    builds = json.loads(up.kubectl("get", "builds", "-o", "json").stdout)["items"]
    assert [b["status"]["phase"] for b in builds] == ["Failed"]
    assert "hello" in up.kubectl("get", "apps").stdout
