"""A Dockerfile app through ``paas up`` on Docker: its image goes through the platform's registry.

One ``paas up --runtime docker`` (it runs ``docker-registry`` on loopback
and says where in endpoints.json), the real git client, the real engine:

1. ``git push`` of ``examples/dockerfile-app``: the branch's Knative Service runs
   ``<registry>/default/dockerfile-app@sha256:...``, the pushed image
   pinned by digest;
2. the image is removed from the engine (``docker rmi``) and the pod
   deleted: the new pod starts all the same, its image pulled from the
   registry (the registry's log shows the node's engine asking for that
   digest; the layers it shares with the image of the old pod's container,
   which ``rmi -f`` only untags, are not fetched again);
3. the same commit pushed to another branch is neither built nor pushed
   again: the registry has it;
4. the registry stops answering (SIGSTOP: the port is open, nothing
   replies) and a change is pushed: the push fails saying the registry at
   its address did not answer, nothing is deployed, the old version keeps
   answering.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.gitpush import GitUser
from support.paasup import Up, start_up
from support.pushsite import Site
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = "dockerfile-app"
HOST = f"{APP}.localhost"
SERVED = "<h1>Hello from an image built from a Dockerfile</h1>"

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


@pytest.fixture
def up(tmp_path: Path, stack_image: str) -> Iterator[Up]:
    with start_up(tmp_path / "paas", "docker") as running:  # forgets the images at the end
        yield running


def served(site: Site, text: str) -> bool:
    status, body = site.get(HOST)
    return status == 200 and text in body


def deployed_image(up: Up) -> str:
    found = up.kubectl("get", "ksvc", f"{APP}-main", "-o", "json")
    ksvc = json.loads(found.stdout)
    return str(ksvc["spec"]["template"]["spec"]["containers"][0]["image"])


def engine_has(ref: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, check=False)
    return done.returncode == 0


def registry_pid(up: Up) -> int:
    """The ``docker-registry`` this ``paas up`` supervises, by its config file's path."""
    config = up.data_dir / "registry" / "config.yml"
    found = subprocess.run(
        ["pgrep", "-f", f"docker-registry serve {config}$"], capture_output=True, text=True
    )
    [pid] = found.stdout.split()
    return int(pid)


def ready_pod_names(up: Up) -> list[str]:
    found = up.kubectl("get", "pods", "-l", f"paas.dev/app={APP}", "-o", "json")
    return [
        p["metadata"]["name"]
        for p in json.loads(found.stdout)["items"]
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in p.get("status", {}).get("conditions", [])
        )
    ]


def test_a_dockerfile_image_is_pulled_from_the_registry_and_a_silent_registry_fails_the_push(
    up: Up, tmp_path: Path
) -> None:
    site = Site(up)
    registry = json.loads((up.data_dir / "endpoints.json").read_text())["registry"]
    assert registry.startswith("http://127.0.0.1:"), registry
    assert httpx.get(f"{registry}/v2/", timeout=5).status_code == 200
    address = registry.removeprefix("http://")

    dev = GitUser(tmp_path / "home" / APP)
    shutil.copytree(ROOT / "examples" / APP, dev.tree, dirs_exist_ok=True)
    dev.git("add", "-A")
    dev.git("commit", "-q", "-m", APP)
    remote = site.remote(APP)
    done = dev.push(remote, "main")
    assert done.returncode == 0, done.stderr
    assert f"-----> Pushing {address}/default/{APP}:" in done.stderr, done.stderr
    wait_until(lambda: served(site, SERVED), 60, f"{APP} to answer")
    image = deployed_image(up)
    assert image.startswith(f"{address}/default/{APP}@sha256:"), image

    # 2. Gone from the engine: the next pod pulls it from the registry.
    [old_pod] = ready_pod_names(up)
    tag = f"{address}/default/{APP}:{done.stderr.split(f'/default/{APP}:')[1][:12]}"
    subprocess.run(["docker", "rmi", "-f", image, tag], capture_output=True, check=True)
    assert not engine_has(image)
    log = up.data_dir / "logs" / "registry.log"
    before = log.stat().st_size
    up.kubectl("delete", "pod", old_pod, "--wait=false")
    new_pods = wait_until(
        lambda: [p for p in ready_pod_names(up) if p != old_pod], 90, "a new pod to be ready"
    )
    assert new_pods and engine_has(image)
    assert served(site, SERVED)
    digest = image.rpartition("@")[2]
    with log.open() as f:
        f.seek(before)
        asked = f.read()
    pulls = [  # GET, or HEAD where the engine still holds the layers under the old container
        line
        for line in asked.splitlines()
        if f"/v2/default/{APP}/manifests/{digest}" in line and "docker-sdk-python" in line
    ]
    assert pulls and "http.response.status=200" in pulls[0], asked[-2000:]

    # 3. The same commit again: the registry has its image.
    done = dev.push(remote, "main:again")
    assert done.returncode == 0, done.stderr
    assert "already in the registry" in done.stderr, done.stderr
    assert "docker build" not in done.stderr and "-----> Pushing" not in done.stderr

    # 4. A registry that does not answer: the push fails, the old version stays.
    dev.commit({"index.html": SERVED.replace("Hello", "Hello v2")}, "v2")
    pid = registry_pid(up)
    os.kill(pid, signal.SIGSTOP)
    try:
        done = dev.push(remote, "main")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert done.returncode == 1, done.stderr
    assert f"the image registry at {address} did not answer" in done.stderr, done.stderr
    assert "Nothing was deployed; what was live stays live." in done.stderr, done.stderr
    assert served(site, SERVED)
    assert deployed_image(up) == image
