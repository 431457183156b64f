"""A branch the builder's first version deployed moves to a Knative Service with no failed request.

Through ``paas up`` with the real git client, router and node: the Python example is
pushed once (for its slug). A second App, ``old``, is then given what the first App
controller made of a build of that slug: a Deployment, a ClusterIP Service and an Ingress
``old-main`` for ``old.localhost``, with its Build still Running, and requests flow to it
through the router. Then the Build is Succeeded and already ``Deployed``, as the first
version left it: the App
controller gives the branch a Knative Service and the HTTPRoute ``old-main-app`` for the
same host, and deletes the old Ingress, Service and Deployment only once the router has
accepted the route (which it prefers to the Ingress). Requests keep coming throughout and
none fails; the host answers from the new revision afterwards, and the build is not
released or judged again.

This needs the router's Gateway API support (the HTTPRoute kind served, routes accepted):
until then the old objects are never retired and the test fails waiting for that.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.gitpush import GitUser
from support.paasup import Up, start_up
from support.pushsite import Site
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "python-flask"
pytestmark = pytest.mark.timeout(300)
HOST = "old.localhost"
SELECTOR = {"paas.dev/app": "old", "paas.dev/branch": "main"}
PATCH_STATUS = ("patch", "build", "old-main-0000000", "--subresource=status", "--type=merge")
ROUTE = "httproute.gateway.networking.k8s.io/old-main-app"  # as kubectl -o name says it


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with start_up(tmp_path / "paas", "process", "--network", "loopback") as running:
        yield running


class Requests:
    """GETs one after another through the router until stopped; failures kept."""

    def __init__(self, site: Site, host: str) -> None:
        self.site, self.host = site, host
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body = self.site.get(self.host)
            if status == 200:
                self.ok += 1
            else:
                self.failures.append(f"{time.strftime('%X')} {status} {body[:200]}")

    def __enter__(self) -> Requests:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def apply(up: Up, tmp_path: Path, obj: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / f"{obj['kind']}-{obj['metadata']['name']}.json"
    path.write_text(json.dumps(obj))
    done = up.kubectl("create", "-f", str(path), "-o", "json")
    return dict(json.loads(done.stdout))


def owned(app: dict[str, Any], name: str) -> dict[str, Any]:
    ref = {
        "apiVersion": "paas.dev/v1",
        "kind": "App",
        "name": "old",
        "uid": app["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {"name": name, "labels": dict(SELECTOR), "ownerReferences": [ref]}


def first_version(app: dict[str, Any], slug: str, port: int) -> list[dict[str, Any]]:
    """The first App controller's Deployment, Service and Ingress for branch main of ``old``."""
    env = [
        {"name": "PORT", "value": "5000"},
        {"name": "PAAS_APP", "value": "old"},
        {"name": "PAAS_BRANCH", "value": "main"},
        {"name": "PAAS_URL", "value": f"http://{HOST}:{port}/"},
    ]
    container = {
        "name": "web",
        "image": slug,
        "env": env,
        "ports": [{"name": "http", "containerPort": 5000}],
        "readinessProbe": {"tcpSocket": {"port": 5000}, "periodSeconds": 1},
    }
    annotations = {"paas.dev/build": "old-main-0000000", "paas.dev/commit": "0" * 40}
    backend = {"service": {"name": "old-main", "port": {"number": 80}}}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": owned(app, "old-main"),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(SELECTOR)},
                "template": {
                    "metadata": {"labels": dict(SELECTOR), "annotations": annotations},
                    "spec": {"containers": [container]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": owned(app, "old-main"),
            "spec": {
                "selector": dict(SELECTOR),
                "ports": [{"name": "http", "port": 80, "targetPort": 5000}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": owned(app, "old-main"),
            "spec": {
                "ingressClassName": "paas",
                "rules": [
                    {
                        "host": HOST,
                        "http": {
                            "paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]
                        },
                    }
                ],
            },
        },
    ]


def names(up: Up, kinds: str) -> list[str] | None:
    """Names of the ``old`` App's objects of ``kinds``; None when a kind is not served."""
    done = up.kubectl("get", kinds, "-l", "paas.dev/app=old", "-o", "name", check=False)
    return done.stdout.split() if done.returncode == 0 else None


def test_a_first_version_branch_moves_to_a_knative_service_with_no_failed_request(
    up: Up, tmp_path: Path
) -> None:
    site = Site(up)
    dev = GitUser(tmp_path / "home")
    shutil.copytree(EXAMPLE, dev.tree, dirs_exist_ok=True)
    dev.commit({"README": "for its slug\n"}, "the example")
    pushed = dev.push(site.remote("pyapp"), "main")
    assert pushed.returncode == 0, pushed.stderr
    [build] = json.loads(up.kubectl("get", "builds", "-o", "json").stdout)["items"]
    slug = build["status"]["result"]

    app = apply(
        up, tmp_path, {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "old"}}
    )
    # The branch's Build exists (a branch without one loses its objects) but is not finished
    # yet: the App controller leaves the first version's objects alone ...
    build = {
        "apiVersion": "paas.dev/v1",
        "kind": "Build",
        "metadata": owned(app, "old-main-0000000"),
        "spec": {"app": "old", "branch": "main", "commit": "0" * 40},
    }
    apply(up, tmp_path, build)
    up.kubectl(*PATCH_STATUS, "-p", json.dumps({"status": {"phase": "Running"}}))
    for obj in first_version(app, slug, site.port):
        apply(up, tmp_path, obj)
    wait_until(lambda: site.get(HOST)[0] == 200, 60, "the first version to answer")

    with Requests(site, HOST) as requests:
        wait_until(lambda: requests.ok > 0, 10, "requests to flow")
        # ... until its build is Succeeded and Deployed, as the first version left it
        finished = {
            "status": {
                "phase": "Succeeded",
                "result": slug,
                "conditions": [{"type": "Deployed", "status": "True", "reason": "Available"}],
            }
        }
        up.kubectl(*PATCH_STATUS, "-p", json.dumps(finished))

        wait_until(
            lambda: names(up, "httproutes.gateway.networking.k8s.io") == [ROUTE],
            60,
            "the branch's HTTPRoute",
        )
        wait_until(
            lambda: names(up, "ingress") == [],
            60,
            "the router to accept the route and the old Ingress to go",
        )
        wait_until(
            lambda: not any(n.endswith("/old-main") for n in names(up, "deploy,svc") or []),
            60,
            "the old Deployment and Service to go",
        )
        ok_after = requests.ok
        wait_until(lambda: requests.ok > ok_after + 20, 20, "more requests after the move")
    assert requests.failures == [], requests.failures[:5]
    assert site.get(HOST) == (200, "Hello from Python on branch main!\n")
    revision = json.loads(up.kubectl("get", "ksvc", "old-main", "-o", "json").stdout)["status"][
        "latestReadyRevisionName"
    ]
    assert revision == "old-main-00001"
    moved = json.loads(up.kubectl("get", "build", "old-main-0000000", "-o", "json").stdout)
    [deployed] = [c for c in moved["status"]["conditions"] if c["type"] == "Deployed"]
    assert deployed["status"] == "True"  # it served throughout
    jobs = up.kubectl("get", "jobs", "-l", "paas.dev/app=old", "-o", "name").stdout
    assert jobs == ""  # the build was not released again
