"""A real image registry for tests: Debian's ``docker-registry`` on a free loopback port.

Run from the same config ``paas up`` writes (``paas.up.registry``), its
storage in the test's own directory (optionally read-only, to refuse
pushes). ``start_registry(root)`` returns once
``GET /v2/`` answers; ``stop()`` ends it by its pid. ``forget_images``
removes from the engine what a test pushed to or pulled from a registry. Without the binary a
test is skipped, or fails where CI requires its engines.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from paas.up.registry import HOST, RegistryFiles, free_port, write_config
from support.engines import require_engine
from support.wait import wait_until


@dataclass
class RunningRegistry:
    address: str  # HOST:PORT, as image references name it
    files: RegistryFiles
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + "/v2/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tags(self, repository: str) -> list[str]:
        answer = httpx.get(f"{self.url}/v2/{repository}/tags/list", timeout=5)
        return list(answer.json().get("tags") or []) if answer.status_code == 200 else []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def registry_binary() -> str:
    found = shutil.which("docker-registry")
    require_engine("docker-registry", found is not None, "docker-registry not installed")
    assert found is not None
    return found


def start_registry(root: Path, *, read_only: bool = False) -> RunningRegistry:
    """A registry in ``root``; ``read_only`` answers questions but refuses every push."""
    files = RegistryFiles(root)
    address = f"{HOST}:{free_port()}"
    config = write_config(files, address)
    if read_only:  # distribution's maintenance mode
        loaded = yaml.safe_load(config.read_text())
        loaded["storage"]["maintenance"] = {"readonly": {"enabled": True}}
        config.write_text(yaml.safe_dump(loaded))
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen(
        [registry_binary(), "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    running = RunningRegistry(address, files, process)
    try:
        wait_until(
            lambda: running.answers() or process.poll() is not None, 20, "registry to answer"
        )
        assert process.poll() is None, (root / "registry.log").read_text()
    except BaseException:
        running.stop()
        raise
    return running


def dead_address() -> str:
    """A loopback HOST:PORT where nothing listens (a registry that is down)."""
    return f"{HOST}:{free_port()}"


def forget_images(address: str) -> None:
    """Remove from the engine every image reference of this test's registry."""
    listed = subprocess.run(
        ["docker", "image", "ls", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        return  # no engine answers: it keeps nothing of ours
    refs = []
    for line in listed.stdout.splitlines():
        repo, tag, digest = line.split()
        if repo.startswith(address + "/"):
            refs += [f"{repo}:{tag}"] if tag != "<none>" else []
            refs += [f"{repo}@{digest}"] if digest != "<none>" else []
    if refs:
        subprocess.run(["docker", "rmi", "-f", *refs], capture_output=True, check=False)
