"""``make run``'s ``paas up --example examples/python-flask``: a live URL right after the banner.

The example is pushed from a copy in the data dir (the project's tree gets
no repository), its steps are shown, and the URL it prints answers 200
through the router. Ctrl-C stops it all, leaving no pod behind. Started
again on the same data dir, the same commit is already pushed: nothing is
built again and the URL answers once the pods are back.
"""

from __future__ import annotations

import http.client
import json
import re
import uuid
from pathlib import Path

from support.kubelet import free_pod_cidr
from support.paasup import Up, start_up
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "python-flask"


def live_url(up: Up) -> str:
    """The URL ``paas up`` printed once the example answered (fails on "is not live")."""
    found = wait_until(
        lambda: re.search(r"Live: (\S+)|is not live: .*", up.log()), 120, "the example's URL"
    )
    assert found.group(1), up.log()
    return found.group(1)


def get_through_router(up: Up, url: str) -> tuple[int, str]:
    """GET ``url`` at the router's address with its host (Python does not resolve *.localhost)."""
    router = json.loads((up.data_dir / "endpoints.json").read_text())["http"]
    conn = http.client.HTTPConnection(router.removeprefix("http://"), timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": url.split("/")[2]})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_paas_up_with_an_example_prints_a_live_url_and_stops_clean(tmp_path: Path) -> None:
    data_dir = tmp_path / "paas"
    node, cidr = f"up-{uuid.uuid4().hex[:8]}", free_pod_cidr()
    flags = ("--network", "loopback", "--example", str(EXAMPLE))
    with start_up(data_dir, "process", *flags, node=node, cluster_cidr=cidr) as up:
        url = live_url(up)
        port = json.loads((data_dir / "endpoints.json").read_text())["http"].rsplit(":", 1)[1]
        assert url == f"http://python-flask.localhost:{port}/"
        assert get_through_router(up, url) == (200, "Hello from Python on branch main!\n")
        log = up.log()
        assert "python-flask: Building main" in log and "python-flask: Deployed" in log
        assert f"try:  curl {url}" in log
        assert (data_dir / "example" / "python-flask" / ".git").is_dir()
        assert not (EXAMPLE / ".git").exists()  # the project's tree is only read
        config = (data_dir / "example" / "python-flask" / ".git" / "config").read_text()
        assert (data_dir / "admin.token").read_text().strip() not in config
        first_run = up
    assert "paas stopped." in first_run.log()
    assert first_run.leftovers() == []

    with start_up(data_dir, "process", *flags, node=node, cluster_cidr=cidr) as up:
        url = live_url(up)
        assert "python-flask: Everything up-to-date" in up.log()
        assert get_through_router(up, url)[0] == 200
        builds = json.loads(up.kubectl("get", "builds", "-o", "json").stdout)["items"]
        assert len(builds) == 1  # the same commit: built once
