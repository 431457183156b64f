"""A ``paas up`` seen by someone who pushes: remotes, URLs through the router, branch objects.

``Site(up)`` reads endpoints.json and the admin token once. ``remote(app)``
is the git URL through the router (``git.localhost``, the token as the
password), ``get(host)`` a request to the router with that Host header
(Python cannot resolve ``*.localhost``), and ``branch_objects`` what the
cluster still holds of one branch of an app, by its labels.
"""

from __future__ import annotations

import http.client
import json

from support.paasup import Up

# What a branch owns, by the labels the App controller and the builder put on them: its
# Knative Service and what the serving controller made of it (the template's labels reach
# the Configuration, Route, Revisions and their Deployments, ReplicaSets, pods and Services),
# the HTTPRoute of its host, its Builds, and the first version's Ingress. Full names: a
# short name like "services" or "routes" could be another group's.
BRANCH_KINDS = ",".join(
    (
        "services.serving.knative.dev",
        "configurations.serving.knative.dev",
        "revisions.serving.knative.dev",
        "routes.serving.knative.dev",
        "httproutes.gateway.networking.k8s.io",
        "deployments.apps",
        "replicasets.apps",
        "pods",
        "services",
        "ingresses.networking.k8s.io",
        "builds.paas.dev",
    )
)


class Site:
    def __init__(self, up: Up) -> None:
        self.up = up
        endpoints = json.loads((up.data_dir / "endpoints.json").read_text())
        self.router = endpoints["http"]
        self.port = int(self.router.rsplit(":", 1)[1])
        self.token = (up.data_dir / "admin.token").read_text().strip()

    def remote(self, app: str, token: str | None = None) -> str:
        password = self.token if token is None else token
        return f"http://paas:{password}@git.localhost:{self.port}/{app}.git"

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}/"

    def get(self, host: str, path: str = "/") -> tuple[int, str]:
        """(status, body) through the router; (0, the error) when it cannot be reached."""
        status, body = self.fetch(host, path)
        return status, body.decode(errors="replace")

    def fetch(self, host: str, path: str = "/") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.router.removeprefix("http://"), timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            return response.status, response.read()
        except OSError as exc:
            return 0, str(exc).encode()
        finally:
            conn.close()

    def branch_objects(self, app: str, slug: str) -> list[str]:
        """Names of everything labelled with ``app`` and the branch slug ``slug``."""
        selector = f"paas.dev/app={app},paas.dev/branch={slug}"
        found = self.up.kubectl("get", BRANCH_KINDS, "-l", selector, "-o", "name")
        return found.stdout.split()

    def app_objects(self, app: str) -> list[str]:
        found = self.up.kubectl("get", BRANCH_KINDS, "-l", f"paas.dev/app={app}", "-o", "name")
        return found.stdout.split()
