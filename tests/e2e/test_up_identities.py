"""``paas up``: every component is itself, no credential is on a command line, nothing is readable.

One real ``paas up`` (process runtime, loopback network):

- every process it starts (components, the node's pod supervisors, the pods) has a
  command line, in ``/proc/PID/cmdline``, that holds none of the data dir's tokens;
- each component's kubeconfig authenticates as that component's own user
  (``system:kube-scheduler``, ``system:paas:router``...), as TokenReview says;
- a local user who is not root (``nobody``) can open no file of the data dir.
"""

from __future__ import annotations

import json
import shutil
import ssl
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from support.asnobody import opened_as_nobody, require_switching_users
from support.paasup import Up, start_up

from paas.up.datadir import COMPONENT_USERS, NODE

COMPONENTS = {
    "apiserver",
    "dns",
    "controller-manager",
    "scheduler",
    "router",
    "builder",
    "app-controller",
    "serving-controller",
    "autoscaler",
    "node",
}


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    # a parent any user may enter (as ``~`` is): only the data dir's own modes protect it
    parent = Path(tempfile.mkdtemp(prefix="paas-identities-", dir="/tmp"))
    parent.chmod(0o755)
    try:
        with start_up(parent / "paas", "process", "--network", "loopback") as running:
            yield running
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def tokens(data_dir: Path) -> dict[str, str]:
    found = {p.name: p.read_text().strip() for p in data_dir.glob("*.token")}
    found |= {p.name: p.read_text().strip() for p in (data_dir / "identities").glob("*.token")}
    return found


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent ids in ``/proc``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat_line.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += frontier
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""  # it ended meanwhile


def test_no_process_paas_up_starts_has_a_token_on_its_command_line(up: Up) -> None:
    secrets = tokens(up.data_dir)
    assert len(secrets) == len(COMPONENT_USERS) + 2, secrets  # the admin's, the node's, each
    lines = {pid: cmdline(pid) for pid in descendants(up.process.pid)}
    started = {
        argv.split(" -m paas ", 1)[1].split()[0] for argv in lines.values() if " -m paas " in argv
    }
    assert COMPONENTS <= started, lines
    leaked = {
        pid: name for pid, argv in lines.items() for name, token in secrets.items() if token in argv
    }
    assert leaked == {}, lines
    assert not any("--token" in argv.split() for argv in lines.values()), lines


def test_each_component_authenticates_as_its_own_user(up: Up) -> None:
    admin = yaml.safe_load((up.data_dir / "kubeconfig").read_text())
    server = admin["clusters"][0]["cluster"]["server"]
    token = admin["users"][0]["user"]["token"]
    expected = {**COMPONENT_USERS, NODE: f"system:node:{up.node}"}  # the Node authorizer's name
    seen = {}
    with httpx.Client(
        base_url=server,
        verify=ssl.create_default_context(cafile=str(up.data_dir / "ca.crt")),
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        for component in expected:
            path = up.data_dir / "identities" / f"{component}.kubeconfig"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            own = yaml.safe_load(path.read_text())
            assert own["clusters"][0]["cluster"]["server"] == server
            review = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": own["users"][0]["user"]["token"]},
            }
            answer = http.post("/apis/authentication.k8s.io/v1/tokenreviews", json=review)
            assert answer.status_code == 201, answer.text
            user = answer.json()["status"]["user"]
            seen[component] = user["username"]
            assert "system:masters" not in user["groups"], (component, user)
    assert seen == expected


def test_nobody_opens_any_file_of_the_data_dir(up: Up) -> None:
    require_switching_users()
    data_dir = up.data_dir
    probe = data_dir.parent / "paas-up.probe"
    probe.write_text("anyone may read this\n")
    probe.chmod(0o644)
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    assert {"ca.key", "tokens.json", "state.db", "kubeconfig"} <= {p.name for p in files}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "node").stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "builder").stat().st_mode) == 0o700
    assert opened_as_nobody([data_dir.parent / "paas-up.probe"]) == [
        str(data_dir.parent / "paas-up.probe")
    ]  # the reader can open what is not protected
    assert opened_as_nobody(files) == []
    assert json.loads((data_dir / "endpoints.json").read_text())["api"]
