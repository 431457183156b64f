"""Pod volumes on disk: emptyDir, hostPath types, configMap/secret files, claims, mounts."""

from __future__ import annotations

import base64
import os
import socket
import stat
from pathlib import Path

import pytest

from orchestrator.kubelet.runtimes.base import Mount
from orchestrator.kubelet.volumes import VolumeError, Volumes, container_mounts


class Source:
    def __init__(self, config_maps=None, secrets=None) -> None:
        self.cms = config_maps or {}
        self.secs = secrets or {}

    def config_map(self, namespace, name):
        return self.cms.get((namespace, name))

    def secret(self, namespace, name):
        return self.secs.get((namespace, name))

    def services(self, namespace):
        return []


def pod(*volumes: dict, uid: str = "u-1") -> dict:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": uid, "labels": {"a": "b"}},
        "spec": {"volumes": list(volumes)},
        "status": {"podIP": "10.203.0.2"},
    }


def test_empty_dir_is_a_writable_directory_removed_with_the_pod(tmp_path: Path) -> None:
    vols = Volumes(tmp_path)
    paths = vols.setup(pod({"name": "scratch", "emptyDir": {}}), Source())
    assert paths["scratch"].is_dir()
    assert stat.S_IMODE(paths["scratch"].stat().st_mode) == 0o777
    (paths["scratch"] / "f").write_text("x")
    assert vols.setup(pod({"name": "scratch", "emptyDir": {}}), Source()) == paths
    assert (paths["scratch"] / "f").read_text() == "x"  # set-up again keeps the content
    assert vols.pod_uids() == ["u-1"]
    vols.teardown("u-1")
    assert not paths["scratch"].exists()


def test_config_map_files_with_items_modes_and_refresh(tmp_path: Path) -> None:
    cm = {"data": {"app.conf": "a=1\n", "other": "o"}}
    source = Source(config_maps={("ns", "cfg"): cm})
    vols = Volumes(tmp_path)
    whole = {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 0o600}}
    target = vols.setup(pod(whole), source)["cfg"]
    assert (target / "app.conf").read_text() == "a=1\n"
    assert stat.S_IMODE((target / "app.conf").stat().st_mode) == 0o600
    assert sorted(p for p in os.listdir(target) if not p.startswith("..")) == ["app.conf", "other"]
    cm["data"] = {"app.conf": "a=2\n"}
    vols.setup(pod(whole), source)
    assert (target / "app.conf").read_text() == "a=2\n"
    assert not (target / "other").exists()
    assert len([p for p in os.listdir(target) if p.startswith("..") and p != "..data"]) == 1
    picked = {
        "name": "cfg",
        "configMap": {
            "name": "cfg",
            "items": [{"key": "app.conf", "path": "conf/x.conf", "mode": 0o640}],
        },
    }
    target = vols.setup(pod(picked, uid="u-2"), source)["cfg"]
    assert (target / "conf" / "x.conf").read_text() == "a=2\n"
    assert stat.S_IMODE((target / "conf" / "x.conf").stat().st_mode) == 0o640


def test_secret_files_are_decoded(tmp_path: Path) -> None:
    secret = {"data": {"token": base64.b64encode(b"t0ken").decode()}}
    source = Source(secrets={("ns", "s"): secret})
    target = Volumes(tmp_path).setup(pod({"name": "s", "secret": {"secretName": "s"}}), source)["s"]
    assert (target / "token").read_bytes() == b"t0ken"


def test_missing_config_map_or_key_is_named_unless_optional(tmp_path: Path) -> None:
    vols = Volumes(tmp_path)
    with pytest.raises(VolumeError, match='volume "cfg": configmap "cfg" not found'):
        vols.setup(pod({"name": "cfg", "configMap": {"name": "cfg"}}), Source())
    assert vols.setup(
        pod({"name": "cfg", "configMap": {"name": "cfg", "optional": True}}), Source()
    )
    source = Source(config_maps={("ns", "cfg"): {"data": {}}})
    items = {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "k"}]}}
    with pytest.raises(VolumeError, match="couldn't find key k"):
        vols.setup(pod(items), source)


def test_host_path_types(tmp_path: Path) -> None:
    vols = Volumes(tmp_path / "state")
    made = tmp_path / "made"
    vols.setup(
        pod({"name": "h", "hostPath": {"path": str(made), "type": "DirectoryOrCreate"}}), Source()
    )
    assert made.is_dir()
    file = tmp_path / "f.txt"
    vols.setup(
        pod({"name": "h", "hostPath": {"path": str(file), "type": "FileOrCreate"}}), Source()
    )
    assert file.is_file()
    with pytest.raises(VolumeError, match="is not a directory"):
        vols.setup(
            pod({"name": "h", "hostPath": {"path": str(file), "type": "Directory"}}), Source()
        )
    with pytest.raises(VolumeError, match="does not exist"):
        vols.setup(
            pod({"name": "h", "hostPath": {"path": str(tmp_path / "no"), "type": "File"}}), Source()
        )
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        vols.setup(
            pod({"name": "h", "hostPath": {"path": str(sock_path), "type": "Socket"}}), Source()
        )
    with pytest.raises(VolumeError, match="not a known type"):
        vols.setup(pod({"name": "h", "hostPath": {"path": str(made), "type": "Dir"}}), Source())


def test_claims_outlive_the_pod(tmp_path: Path) -> None:
    vols = Volumes(tmp_path)
    paths = vols.setup(
        pod({"name": "data", "persistentVolumeClaim": {"claimName": "db"}}), Source()
    )
    assert paths["data"] == tmp_path / "claims" / "ns" / "db"
    (paths["data"] / "rows").write_text("1")
    vols.teardown("u-1")
    assert (tmp_path / "claims" / "ns" / "db" / "rows").read_text() == "1"


def test_downward_api_files(tmp_path: Path) -> None:
    volume = {
        "name": "info",
        "downwardAPI": {
            "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
        },
    }
    target = Volumes(tmp_path).setup(pod(volume), Source())["info"]
    assert (target / "labels").read_text() == 'a="b"'


def test_mounts_with_sub_path_and_read_only(tmp_path: Path) -> None:
    paths = {"data": tmp_path / "data"}
    paths["data"].mkdir()
    container = {
        "name": "app",
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/data", "readOnly": True},
            {"name": "data", "mountPath": "/srv/logs", "subPath": "logs"},
        ],
    }
    assert container_mounts(container, paths) == (
        Mount(str(tmp_path / "data"), "/var/data", True),
        Mount(str(tmp_path / "data" / "logs"), "/srv/logs", False),
    )
    assert (tmp_path / "data" / "logs").is_dir()
    with pytest.raises(VolumeError, match='no volume named "other"'):
        container_mounts(
            {"name": "app", "volumeMounts": [{"name": "other", "mountPath": "/x"}]}, paths
        )
    with pytest.raises(VolumeError, match=r"without '\.\.'"):
        container_mounts(
            {
                "name": "app",
                "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "../up"}],
            },
            paths,
        )
