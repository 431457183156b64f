"""The router as ``paas up`` runs it: an Ingress applied with kubectl answers through it.

Run in both network modes on the process runtime, since what the router dials
is what Endpoints hold: 127.x host addresses in loopback mode, bridge
addresses in root mode (reachable from the host either way, no cluster IP).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.engines import require_engine
from support.paasup import apply, ready_pods, start_up, web_manifest
from support.wait import wait_until

COMMAND = ["python3", "-m", "http.server", "$(PORT)", "--bind", "$(HOST)"]
INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: web.localhost
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}
"""


def get(url: str, host: str) -> int | None:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.mark.parametrize("network", ["loopback", "root"])
def test_ingress_applied_with_kubectl_answers_through_the_router(
    tmp_path: Path, network: str
) -> None:
    if network == "root":
        require_engine("root", os.geteuid() == 0, "root mode needs root")
    with start_up(tmp_path / "paas", "process", "--network", network) as up:
        endpoints = json.loads((up.data_dir / "endpoints.json").read_text())
        http = endpoints["http"]
        assert "  HTTP:       " + http in up.log()
        assert get(http, "nothing.localhost") == 404
        classes = up.kubectl("get", "ingressclass").stdout
        assert "paas" in classes and "paas.dev/router" in classes
        apply(up, web_manifest(1, COMMAND) + "---" + INGRESS)
        wait_until(lambda: ready_pods(up, 1), 90, "a ready pod")
        wait_until(
            lambda: get(http, "web.localhost") == 200, 10, "web.localhost through the router"
        )
        jsonpath = "jsonpath={.status.loadBalancer.ingress[0].ip}"

        def address() -> str:
            return up.kubectl("get", "ingress", "web", "-o", jsonpath).stdout

        assert wait_until(address, 10) == "127.0.0.1"
