"""The CLI around pushes: ``paas apps``, ``paas git-remote`` with its credential helper,
``paas builds`` and ``paas builds logs``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.gitpush import GitUser, RunningBuilder, builds_of


def paas(builder: RunningBuilder, *args: str, cwd: Path | None = None, env=None):
    done = subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(builder.api.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return done


def test_git_remote_adds_a_remote_that_pushes_with_the_kubeconfigs_token(
    builder: RunningBuilder, dev: GitUser, tmp_path: Path
) -> None:
    data = tmp_path / "paas-data"
    data.mkdir()
    (data / "endpoints.json").write_text(json.dumps({"git": builder.url}))
    dev.commit({"a": "1"})
    done = paas(builder, "git-remote", "shop", "--data-dir", str(data), cwd=dev.tree, env=dev.env)
    assert done.returncode == 0, done.stderr
    assert f"remote paas -> {builder.url}/shop.git" in done.stdout
    config = (dev.tree / ".git" / "config").read_text()
    assert builder.api.token not in config  # the token stays in the kubeconfig
    pushed = dev.push("paas", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "served at http://shop.localhost:8080/" in pushed.stderr


def test_apps_create_list_delete(builder: RunningBuilder) -> None:
    made = paas(builder, "apps", "create", "blog", "--main-branch", "trunk")
    assert made.returncode == 0, made.stderr
    listed = paas(builder, "apps", "list")
    assert listed.stdout.split("\n")[0].split() == ["NAME", "MAIN", "URL", "BRANCHES", "AGE"]
    assert listed.stdout.split("\n")[1].split()[:2] == ["blog", "trunk"]
    bad = paas(builder, "apps", "create", "Blog_2")
    assert bad.returncode == 1 and "invalid app name" in bad.stderr
    gone = paas(builder, "apps", "delete", "blog")
    assert gone.returncode == 0, gone.stderr
    assert "No apps found" in paas(builder, "apps", "list").stderr


def test_builds_table_and_log(builder: RunningBuilder, dev: GitUser) -> None:
    commit = dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    table = paas(builder, "builds", "--app", "shop")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "APP", "BRANCH", "COMMIT", "PHASE", "AGE"]
    assert row.split()[:5] == [f"shop-main-{commit[:7]}", "shop", "main", commit, "Succeeded"]
    log = paas(builder, "builds", "logs", f"shop-main-{commit[:7]}")
    assert log.returncode == 0, log.stderr
    assert "-----> Building main" in log.stdout and "building shop main" in log.stdout


def test_a_push_after_the_app_was_deleted_starts_a_new_app_and_repository(
    builder: RunningBuilder, dev: GitUser
) -> None:
    dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    assert paas(builder, "apps", "delete", "shop").returncode == 0
    with builder.api.http() as http:
        assert http.get("/apis/paas.dev/v1/namespaces/default/apps/shop").status_code == 404
    dev.commit({"a": "2"})
    again = dev.push(builder.remote("shop"), "main")
    assert again.returncode == 0, again.stderr
    assert "* [new branch]      main -> main" in again.stderr  # a new repository
    # (the old Builds go with the garbage collector, which this test does not run)
    with builder.api.http() as http:
        uid = http.get("/apis/paas.dev/v1/namespaces/default/apps/shop").json()["metadata"]["uid"]
    newest = builds_of(builder, "shop")[-1]
    assert newest["metadata"]["ownerReferences"][0]["uid"] == uid
