"""From ``git push`` to a live URL, through ``paas up`` with the real git client.

The Python example (copied, with a route that shows a config var) is pushed
to ``git.localhost`` through the router. The push shows the build, the
release phase and the rollout, and ends with the URL, which answers 200 at
once. A second push rolls to the new code while requests keep coming
through the router, none failing. A commit whose web process crashes, and
one whose release command fails, are refused with the reason while the old
version keeps answering. ``paas config set`` rolls a new revision with the
new value. Each branch is a Knative Service with an HTTPRoute for its host
(``pyapp-main``, ``pyapp-main-app``); Knative's own host
``pyapp-main.default.localhost`` answers too. A preview branch gets its own
host; deleting the branch, then the App, removes what they had. Times from
push start to the first 200 are printed (cold: first push, no dependency
cache; warm: a code change).
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.gitpush import GitUser
from support.paasup import Up, start_up
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "python-flask"
# A branch's objects: its Knative Service and what it became, its host's HTTPRoute
KINDS = ",".join(
    (
        "ksvc",
        "revisions.serving.knative.dev",
        "httproutes.gateway.networking.k8s.io",
        "deploy",
        "svc",
        "ingress",
    )
)
SHOW_CONFIG = """

@app.get("/config/<key>")
def config(key: str) -> str:
    return os.environ.get(key, "") + "\\n"
"""


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with start_up(tmp_path / "paas", "process", "--network", "loopback") as running:
        yield running


def get(router: str, host: str, path: str = "/") -> tuple[int, str]:
    """GET through the router with a Host header (Python cannot resolve *.localhost)."""
    address = router.removeprefix("http://")
    conn = http.client.HTTPConnection(address, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode()
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


class Traffic:
    """Requests one after another through the router until stopped; failures kept."""

    def __init__(self, router: str, host: str) -> None:
        self.router, self.host = router, host
        self.ok = 0
        self.failures: list[str] = []
        self.bodies: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body = get(self.router, self.host)
            if status == 200:
                self.ok += 1
                self.bodies.add(body)
            else:
                self.failures.append(f"{time.strftime('%X')} {status} {body[:200]}")

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def timed_push(dev: GitUser, remote: str, refspec: str, router: str, host: str) -> tuple:
    """Push; the push's result and seconds from its start to the first 200 at ``host``."""
    started = time.monotonic()
    done = dev.push(remote, refspec)
    if done.returncode != 0:
        return done, None
    wait_until(lambda: get(router, host)[0] == 200, 30, f"{host} to answer 200")
    return done, time.monotonic() - started


def paas(up: Up, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(up.data_dir / "kubeconfig")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_git_push_deploys_to_a_url_rolls_without_errors_and_refuses_broken_deploys(
    up: Up, tmp_path: Path
) -> None:
    endpoints = json.loads((up.data_dir / "endpoints.json").read_text())
    router = endpoints["http"]
    port = router.rsplit(":", 1)[1]
    assert endpoints["git"] == f"http://git.localhost:{port}"
    token = (up.data_dir / "admin.token").read_text().strip()
    remote = f"http://paas:{token}@git.localhost:{port}/pyapp.git"
    host = "pyapp.localhost"

    dev = GitUser(tmp_path / "home")
    shutil.copytree(EXAMPLE, dev.tree, dirs_exist_ok=True)
    app_py = (dev.tree / "app.py").read_text() + SHOW_CONFIG
    dev.commit({"app.py": app_py}, "the example")

    # 1. first push (cold): build, release, rollout, URL
    done, cold = timed_push(dev, remote, "main", router, host)
    assert done.returncode == 0, done.stderr
    out = done.stderr
    assert "remote: -----> Release phase:" in out, out
    # the release command's own output, as it printed it, before the outcome
    said = out.index("remote:        release phase: nothing to migrate")
    assert said < out.index("remote: -----> Deploying:"), out  # before the rollout it allowed
    assert "remote: -----> Deployed:" in out, out
    assert f"remote: -----> main is live at http://pyapp.localhost:{port}/" in out, out
    assert get(router, host) == (200, "Hello from Python on branch main!\n")
    assert get(router, "pyapp-main.default.localhost")[0] == 200  # Knative's own host
    ksvc = json.loads(up.kubectl("get", "ksvc", "pyapp-main", "-o", "json").stdout)
    route = json.loads(up.kubectl("get", "httproute", "pyapp-main-app", "-o", "json").stdout)
    assert route["spec"]["hostnames"] == [host]
    [backend] = route["spec"]["rules"][0]["backendRefs"]
    assert backend["name"] == ksvc["status"]["latestReadyRevisionName"]
    # no Ingress: the app's hosts are HTTPRoutes
    assert up.kubectl("get", "ingress", "-l", "paas.dev/app=pyapp", "-o", "name").stdout == ""

    # 2. a code change (warm) rolls with no failed request
    with Traffic(router, host) as traffic:
        wait_until(lambda: traffic.ok > 0, 10, "traffic to flow")
        changed = app_py.replace("Hello from Python", "Hello again from Python")
        dev.commit({"app.py": changed}, "v2")
        done, warm = timed_push(dev, remote, "main", router, host)
        assert done.returncode == 0, done.stderr
        wait_until(lambda: get(router, host)[1].startswith("Hello again"), 10, "v2 to serve")
        ok_after = traffic.ok
        wait_until(lambda: traffic.ok > ok_after + 5, 10, "more traffic")
    assert traffic.failures == [], traffic.failures[:5]
    assert traffic.ok > 20
    print(f"\npush to first 200: cold {cold:.2f}s, warm {warm:.2f}s ({traffic.ok} requests)")

    # 3. a web process that crashes: refused with the reason, v2 keeps answering
    procfile = (dev.tree / "Procfile").read_text()
    crash = procfile.replace(procfile.splitlines()[0], "web: python3 -c 'import sys; sys.exit(3)'")
    dev.commit({"Procfile": crash}, "crashes")
    done = dev.push(remote, "main")
    assert done.returncode == 1, done.stderr
    assert "Deploy failed (StartFailed): the new version keeps crashing" in done.stderr
    assert "pre-receive hook declined" in done.stderr
    assert get(router, host)[1].startswith("Hello again")

    # 4. a release command that fails: refused, nothing rolls
    dev.git("reset", "-q", "--hard", "HEAD~1")
    bad_release = procfile.replace(
        procfile.splitlines()[1], "release: echo migrating the orders table; exit 4"
    )
    dev.commit({"Procfile": bad_release}, "bad release")
    done = dev.push(remote, "main")
    assert done.returncode == 1, done.stderr
    assert "remote:        migrating the orders table" in done.stderr, done.stderr
    assert "Deploy failed (ReleaseFailed)" in done.stderr, done.stderr
    assert get(router, host)[1].startswith("Hello again")
    dev.git("reset", "-q", "--hard", "HEAD~1")

    # 5. config vars roll the pods with the new value
    said = paas(up, "config", "set", "GREETING=bonjour", "--app", "pyapp")
    assert said.returncode == 0, said.stderr
    wait_until(
        lambda: get(router, host, "/config/GREETING") == (200, "bonjour\n"), 60, "new config"
    )

    # ... after running the release phase again with them (as Heroku does); finished release
    # Jobs nothing points at are gone: the live build's (with the new config) and the failed
    # newest build's stay.
    def release_jobs() -> list[tuple[str, str]]:
        listed = up.kubectl("get", "jobs", "-l", "paas.dev/branch=main", "-o", "json")
        return sorted(
            (
                j["metadata"]["annotations"]["paas.dev/build"],
                j["metadata"]["annotations"].get("paas.dev/config-hash", ""),
            )
            for j in json.loads(listed.stdout)["items"]
        )

    wait_until(lambda: len(release_jobs()) == 2, 30, "spent release Jobs to go")
    (failed_build, failed_config), (live_build, live_config) = sorted(
        release_jobs(), key=lambda j: j[1] != ""
    )
    assert failed_config == "" and live_config != "" and failed_build != live_build
    running = up.kubectl(
        "get", "ksvc", "pyapp-main", "-o", "jsonpath={.spec.template.metadata.annotations}"
    )
    assert json.loads(running.stdout)["paas.dev/build"] == live_build

    # 6. a preview branch: its own host; deleting it removes its objects
    done = dev.push(remote, "main:feature-x")
    assert done.returncode == 0, done.stderr
    assert f"http://feature-x--pyapp.localhost:{port}/" in done.stderr
    assert get(router, "feature-x--pyapp.localhost")[0] == 200
    apps = paas(up, "apps", "list")
    assert "pyapp" in apps.stdout and "http://pyapp.localhost" in apps.stdout, apps.stdout
    done = dev.push(remote, ":feature-x")
    assert done.returncode == 0, done.stderr
    wait_until(
        lambda: (
            up.kubectl("get", KINDS, "-l", "paas.dev/branch=feature-x", "-o", "name").stdout.strip()
            == ""
        ),
        30,
        "the branch's objects to go",
    )

    # 7. deleting the App removes everything it owned
    assert paas(up, "apps", "delete", "pyapp").returncode == 0
    wait_until(
        lambda: (
            up.kubectl(
                "get", f"{KINDS},jobs,secrets", "-l", "paas.dev/app=pyapp", "-o", "name"
            ).stdout.strip()
            == ""
        ),
        60,
        "the App's objects to go",
    )
