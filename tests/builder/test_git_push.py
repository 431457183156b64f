"""``git push`` to the builder with the real git client: builds, Builds, logs and refusals."""

from __future__ import annotations

import httpx
from support.gitpush import GitUser, RunningBuilder, app_obj, builds_of

from orchestrator.apiserver.auth import add_token

RBAC_GROUP = "rbac.authorization.k8s.io"


def test_first_push_creates_the_app_builds_and_ends_with_the_url(
    builder: RunningBuilder, dev: GitUser
) -> None:
    commit = dev.commit({"app.py": "print('hi')\n"})
    done = dev.push(builder.remote("shop"), "main")
    assert done.returncode == 0, done.stderr
    out = done.stderr
    assert f"remote: -----> Building main ({commit[:7]}) of shop" in out
    assert "remote:        building shop main" in out
    assert "remote: -----> Built slug:sha256:" in out
    assert "remote: -----> main will be served at http://shop.localhost:8080/" in out
    assert "* [new branch]      main -> main" in out
    app = app_obj(builder, "shop")
    assert app["spec"]["mainBranch"] == "main"
    [build] = builds_of(builder, "shop")
    assert build["metadata"]["name"] == f"shop-main-{commit[:7]}"
    assert build["metadata"]["labels"] == {"paas.dev/app": "shop", "paas.dev/branch": "main"}
    assert build["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    assert build["spec"] == {"app": "shop", "branch": "main", "commit": commit}
    status = build["status"]
    assert status["phase"] == "Succeeded"
    assert status["result"].startswith("slug:sha256:") and len(status["result"]) == 76
    assert status["startTime"] <= status["completionTime"]
    log = httpx.get(status["log"], auth=("any", builder.api.token))
    assert log.status_code == 200
    assert "building shop main" in log.text and "served at" in log.text


def test_a_preview_branch_gets_its_own_url(builder: RunningBuilder, dev: GitUser) -> None:
    dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    dev.git("checkout", "-q", "-b", "feature/Login")
    dev.commit({"a": "2"})
    done = dev.push(builder.remote("shop"), "feature/Login")
    assert done.returncode == 0, done.stderr
    assert "served at http://feature-login-" in done.stderr
    assert "--shop.localhost:8080/" in done.stderr


def test_a_failed_build_refuses_the_push_and_moves_nothing(
    builder: RunningBuilder, dev: GitUser
) -> None:
    good = dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    dev.commit({"FAIL": "requirements.txt names a package that does not exist"})
    done = dev.push(builder.remote("shop"), "main")
    assert done.returncode == 1
    assert "remote:        build failed: requirements.txt names a package" in done.stderr
    assert (  # the reason again on the last line, not an exit status
        "remote:  !     Build failed: requirements.txt names a package that does not exist"
        in done.stderr
    )
    assert "(pre-receive hook declined)" in done.stderr
    ls = dev.git("ls-remote", builder.remote("shop"), "refs/heads/main").stdout
    assert ls.split()[0] == good
    phases = sorted(b["status"]["phase"] for b in builds_of(builder, "shop"))
    assert phases == ["Failed", "Succeeded"]
    [failed] = [b for b in builds_of(builder, "shop") if b["status"]["phase"] == "Failed"]
    assert failed["status"]["message"] == "requirements.txt names a package that does not exist"


def test_a_build_past_its_time_limit_is_stopped_and_the_push_refused(
    short_builds: RunningBuilder, dev: GitUser
) -> None:
    dev.commit({"HANG": ""})
    done = dev.push(short_builds.remote("shop"), "main")
    assert done.returncode == 1
    assert "ran past its time limit (2s)" in done.stderr
    [build] = builds_of(short_builds, "shop")
    assert build["status"]["phase"] == "Failed"


def test_a_wrong_token_gets_401_and_stores_nothing(builder: RunningBuilder, dev: GitUser) -> None:
    dev.commit({"a": "1"})
    done = dev.push(builder.remote("shop", token="wrong"), "main")
    assert done.returncode == 128
    assert "remote: Authentication failed" in done.stderr
    assert "fatal: Authentication failed" in done.stderr
    with builder.api.http() as http:
        assert http.get("/apis/paas.dev/v1/namespaces/default/apps/shop").status_code == 404
    assert not (builder.server.settings.repos / "default" / "shop.git").exists()
    r = httpx.get(f"{builder.url}/shop.git/info/refs?service=git-receive-pack")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="paas"'


def test_bad_repository_paths_are_refused_with_the_reason(builder: RunningBuilder) -> None:
    auth = ("me", builder.api.token)
    query = "?service=git-receive-pack"
    r = httpx.get(f"{builder.url}/%2e%2e/shop.git/info/refs{query}", auth=auth)
    assert r.status_code == 400 and "'..'" in r.text
    r = httpx.get(f"{builder.url}/Bad_Name.git/info/refs{query}", auth=auth)
    assert r.status_code == 400 and 'invalid app name "Bad_Name"' in r.text
    r = httpx.get(f"{builder.url}/nowhere/shop.git/info/refs{query}", auth=auth)
    assert r.status_code == 404 and 'namespace "nowhere" does not exist' in r.text
    r = httpx.get(f"{builder.url}/shop.git/objects/info/packs", auth=auth)
    assert r.status_code == 404


def test_an_invalid_app_name_fails_the_push_with_a_clear_error(
    builder: RunningBuilder, dev: GitUser
) -> None:
    dev.commit({"a": "1"})
    done = dev.push(builder.remote("My_App"), "main")
    assert done.returncode == 128
    assert "400" in done.stderr


def test_clone_and_fetch_work_for_an_existing_app(
    builder: RunningBuilder, dev: GitUser, tmp_path
) -> None:
    commit = dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    other = GitUser(tmp_path / "other-home", "other")
    other.git("clone", "-q", builder.remote("shop"), str(other.tree / "clone"))
    cloned = (other.tree / "clone" / "a").read_text()
    assert cloned == "1"
    assert other.git("-C", "clone", "rev-parse", "HEAD").stdout.strip() == commit
    missing = other.git("clone", builder.remote("nothing"), "x", check=False)
    assert missing.returncode != 0


def test_deleting_a_branch_removes_its_builds(builder: RunningBuilder, dev: GitUser) -> None:
    dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    dev.git("checkout", "-q", "-b", "preview")
    dev.commit({"a": "2"})
    assert dev.push(builder.remote("shop"), "preview").returncode == 0
    assert len(builds_of(builder, "shop")) == 2
    done = dev.push(builder.remote("shop"), ":preview")
    assert done.returncode == 0, done.stderr
    assert "remote: -----> Deleted branch preview of shop: 1 objects removed" in done.stderr
    assert "- [deleted]         preview" in done.stderr
    assert [b["spec"]["branch"] for b in builds_of(builder, "shop")] == ["main"]


def test_the_main_branch_cannot_be_deleted_by_a_push(builder: RunningBuilder, dev: GitUser) -> None:
    dev.commit({"a": "1"})
    assert dev.push(builder.remote("shop"), "main").returncode == 0
    done = dev.push(builder.remote("shop"), ":main")
    assert done.returncode == 1
    assert "main is the app's main branch" in done.stderr
    assert len(builds_of(builder, "shop")) == 1


def test_a_push_into_another_namespace_deploys_there(builder: RunningBuilder, dev: GitUser) -> None:
    with builder.api.http() as http:
        assert http.post("/api/v1/namespaces", json={"metadata": {"name": "team"}}).is_success
    dev.commit({"a": "1"})
    done = dev.push(builder.remote("team/shop"), "main")
    assert done.returncode == 0, done.stderr
    assert "served at http://shop.team.localhost:8080/" in done.stderr
    assert app_obj(builder, "shop", "team")["metadata"]["namespace"] == "team"


def test_a_push_needs_the_right_to_create_builds_of_the_app(
    builder: RunningBuilder, dev: GitUser
) -> None:
    """The builder asks RBAC (SubjectAccessReview) before it accepts a push, as the API would."""
    alice = add_token(builder.api.data_dir / "tokens.json", user="alice", groups=["team-a"])
    dev.commit({"a": "1"})
    done = dev.push(builder.remote("shop", token=alice), "main")
    assert done.returncode == 128
    assert (
        'builds.paas.dev is forbidden: User "alice" cannot create resource "builds" in API '
        'group "paas.dev" in the namespace "default"' in done.stderr
    ), done.stderr
    with builder.api.http() as http:  # refused before anything was made
        assert http.get("/apis/paas.dev/v1/namespaces/default/apps/shop").status_code == 404
        rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
        role = {
            "metadata": {"name": "pusher"},
            "rules": [
                {"apiGroups": ["paas.dev"], "resources": ["builds"], "verbs": ["create"]},
            ],
        }
        assert http.post(f"{rbac}/roles", json=role).status_code == 201
        binding = {
            "metadata": {"name": "alice-pushes"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "pusher"},
            "subjects": [{"kind": "Group", "apiGroup": RBAC_GROUP, "name": "team-a"}],
        }
        assert http.post(f"{rbac}/rolebindings", json=binding).status_code == 201
    done = dev.push(builder.remote("shop", token=alice), "main")
    assert done.returncode == 0, done.stderr
