"""Pod volumes as directories on the node, and the mounts containers get from them.

Layout under the node's state dir::

    pods/<uid>/volumes/<name>/      emptyDir, configMap, secret, downwardAPI, projected
    claims/<namespace>/<claim>/     persistentVolumeClaim: outlives the pod, by design

``hostPath`` is the node's own path, checked against its ``type``
(Directory, DirectoryOrCreate, File, FileOrCreate, Socket, CharDevice,
BlockDevice). A volume that cannot be set up raises ``VolumeError``: the pod
worker records a ``FailedMount`` event and keeps the containers in
``ContainerCreating``, trying again later (the object may yet appear).

ConfigMap, Secret and downward API volumes are written the way the kubelet's
atomic writer does it, so that a refresh never shows a half-written set::

    <vol>/..<stamp>/<files>   one generation of the content
    <vol>/..data -> ..<stamp> swapped with one rename
    <vol>/<key> -> ..data/<key>

Projected ``serviceAccountToken`` sources come from ``PodTokens``
(``podtokens.py``): ``prepare`` (async) fetches or refreshes the pod's tokens
before ``setup`` writes them with the rest of the volume, so a refreshed token
is swapped in like any other content.

``setup`` is idempotent and cheap when nothing changed (the content is
compared first), so the pod worker calls it on every pass; a changed
ConfigMap thus reaches the files at the next pass. The links are relative,
so they resolve inside a container that bind-mounts the volume.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.kubelet.containerenv import (
    ContainerConfigError,
    ObjectSource,
    config_map_data,
    field_value,
    secret_data,
)
from orchestrator.kubelet.podtokens import PodTokens, TokenUnavailable
from orchestrator.kubelet.runtimes.base import Mount

DATA_LINK = "..data"
DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume cannot be set up; the message names the volume and the reason."""


@dataclass(frozen=True)
class FileContent:
    data: bytes
    mode: int


def _mode(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _clean_relpath(path: str, where: str) -> str:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or path.startswith("/") or parts[0].startswith(".."):
        raise VolumeError(f"{where}: path {path!r} must be relative, without '..'")
    return "/".join(parts)


def key_files(
    data: dict[str, str], items: list[Obj] | None, default_mode: int, where: str, optional: bool
) -> dict[str, FileContent]:
    """The files of a configMap/secret volume: every key, or just ``items`` (key -> path)."""
    if not items:
        return {
            _clean_relpath(k, where): FileContent(v.encode(), default_mode) for k, v in data.items()
        }
    out = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"{where}: couldn't find key {key}")
        path = _clean_relpath(str(item.get("path") or key), where)
        out[path] = FileContent(data[key].encode(), _mode(item.get("mode"), default_mode))
    return out


def downward_files(
    pod: Obj, items: list[Obj], default_mode: int, where: str
) -> dict[str, FileContent]:
    out = {}
    for item in items:
        path = _clean_relpath(str(item.get("path") or ""), where)
        ref = item.get("fieldRef") or {}
        try:
            value = field_value(
                pod,
                str(ref.get("fieldPath") or ""),
                pod_ip=(pod.get("status") or {}).get("podIP", ""),
                host_ip=(pod.get("status") or {}).get("hostIP", ""),
            )
        except ContainerConfigError as exc:
            raise VolumeError(f"{where}: {exc}") from None
        out[path] = FileContent(value.encode(), _mode(item.get("mode"), default_mode))
    return out


def write_atomically(target: Path, files: dict[str, FileContent]) -> bool:
    """Make ``target`` hold exactly ``files`` (atomic-writer layout); False if it did already."""
    target.mkdir(parents=True, exist_ok=True)
    if read_generation(target) == files:
        return False
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    generation = target / stamp
    generation.mkdir(mode=0o755)
    for rel, content in files.items():
        path = generation / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.data)
        os.chmod(path, content.mode & 0o7777)
    old = os.readlink(target / DATA_LINK) if (target / DATA_LINK).is_symlink() else None
    tmp = target / "..data_tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(stamp, tmp)
    os.replace(tmp, target / DATA_LINK)
    tops = {rel.split("/", 1)[0] for rel in files}
    for entry in os.listdir(target):
        if entry.startswith(".."):
            continue
        if entry not in tops:
            (target / entry).unlink(missing_ok=True)
    for top in tops:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"{DATA_LINK}/{top}", link)
    if old and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def read_generation(target: Path) -> dict[str, FileContent] | None:
    """What the current generation holds, or None when there is none."""
    data = target / DATA_LINK
    if not data.is_dir():
        return None
    out = {}
    for root, _dirs, names in os.walk(data, followlinks=True):
        for name in names:
            path = Path(root) / name
            rel = path.relative_to(data).as_posix()
            out[rel] = FileContent(path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return out


def check_host_path(path: str, type_: str, where: str) -> None:
    """Kubernetes' hostPath ``type`` checks, creating what ``...OrCreate`` asks for."""
    p = Path(path)
    if not p.is_absolute():
        raise VolumeError(f"{where}: hostPath.path {path!r} must be absolute")
    if type_ in ("", None):
        return
    if type_ == "DirectoryOrCreate":
        p.mkdir(mode=0o755, parents=True, exist_ok=True)
    elif type_ == "FileOrCreate" and not p.exists():
        if not p.parent.is_dir():
            raise VolumeError(f"{where}: hostPath {path}: parent directory does not exist")
        p.touch(mode=0o644)
    checks = {
        "Directory": (stat.S_ISDIR, "a directory"),
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
        "File": (stat.S_ISREG, "a file"),
        "FileOrCreate": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket"),
        "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    if type_ not in checks:
        raise VolumeError(f"{where}: hostPath.type {type_!r} is not a known type")
    test, what = checks[type_]
    try:
        mode = p.stat().st_mode
    except OSError:
        raise VolumeError(f"{where}: hostPath {path} does not exist (type {type_})") from None
    if not test(mode):
        raise VolumeError(f"{where}: hostPath {path} is not {what} (type {type_})")


class Volumes:
    """The volumes of the pods on one node, under ``state_dir``."""

    def __init__(self, state_dir: Path, tokens: PodTokens | None = None) -> None:
        self.state_dir = state_dir
        self.tokens = tokens  # None: serviceAccountToken sources cannot be set up

    async def prepare(self, pod: Obj) -> None:
        """Fetch what ``setup`` cannot read from a cache: the pod's ServiceAccount tokens."""
        if self.tokens is None:
            return
        try:
            await self.tokens.prepare(pod)
        except TokenUnavailable as exc:
            raise VolumeError(str(exc)) from None

    def pod_dir(self, uid: str) -> Path:
        return self.state_dir / "pods" / uid

    def claim_dir(self, namespace: str, claim: str) -> Path:
        return self.state_dir / "claims" / namespace / claim

    def pod_uids(self) -> list[str]:
        """Pods that have a directory here (for cleaning up after pods that are gone)."""
        root = self.state_dir / "pods"
        return sorted(p.name for p in root.iterdir()) if root.is_dir() else []

    def setup(self, pod: Obj, source: ObjectSource) -> dict[str, Path]:
        """Make every volume of the pod exist (refreshing file content); name -> host path."""
        meta = metadata_of(pod)
        uid, namespace = meta.get("uid", ""), meta.get("namespace", "")
        out: dict[str, Path] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name") or "")
            where = f'volume "{name}"'
            target = self.pod_dir(uid) / "volumes" / name
            if isinstance(volume.get("hostPath"), dict):
                host = volume["hostPath"]
                check_host_path(str(host.get("path") or ""), str(host.get("type") or ""), where)
                out[name] = Path(str(host["path"]))
            elif isinstance(volume.get("persistentVolumeClaim"), dict):
                claim = str(volume["persistentVolumeClaim"].get("claimName") or "")
                if not claim or "/" in claim or claim.startswith("."):
                    raise VolumeError(f"{where}: claimName {claim!r} is not a claim name")
                out[name] = self.claim_dir(namespace, claim)
                out[name].mkdir(parents=True, exist_ok=True)
            elif isinstance(volume.get("emptyDir"), dict):
                if not target.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    os.chmod(target, 0o777)  # as Kubernetes: any user of the pod may write
                out[name] = target
            else:
                files = self._files(pod, volume, namespace, source, where)
                if files is None:
                    raise VolumeError(f"{where}: its volume type is not supported on this node")
                write_atomically(target, files)
                out[name] = target
        return out

    def _files(
        self, pod: Obj, volume: Obj, namespace: str, source: ObjectSource, where: str
    ) -> dict[str, FileContent] | None:
        if isinstance(volume.get("configMap"), dict):
            return self._config_map(volume["configMap"], namespace, source, where, None)
        if isinstance(volume.get("secret"), dict):
            return self._secret(volume["secret"], namespace, source, where, None)
        if isinstance(volume.get("downwardAPI"), dict):
            spec = volume["downwardAPI"]
            mode = _mode(spec.get("defaultMode"), DEFAULT_MODE)
            return downward_files(pod, spec.get("items") or [], mode, where)
        if isinstance(volume.get("projected"), dict):
            spec = volume["projected"]
            mode = _mode(spec.get("defaultMode"), DEFAULT_MODE)
            files: dict[str, FileContent] = {}
            for projection in spec.get("sources") or []:
                if isinstance(projection.get("configMap"), dict):
                    files.update(
                        self._config_map(projection["configMap"], namespace, source, where, mode)
                    )
                elif isinstance(projection.get("secret"), dict):
                    files.update(self._secret(projection["secret"], namespace, source, where, mode))
                elif isinstance(projection.get("downwardAPI"), dict):
                    items = projection["downwardAPI"].get("items") or []
                    files.update(downward_files(pod, items, mode, where))
                elif isinstance(projection.get("serviceAccountToken"), dict):
                    files.update(self._token(pod, projection["serviceAccountToken"], where, mode))
            return files
        return None

    def _config_map(
        self, spec: Obj, namespace: str, source: ObjectSource, where: str, mode: int | None
    ) -> dict[str, FileContent]:
        name = str(spec.get("name") or "")
        optional = bool(spec.get("optional"))
        cm = source.config_map(namespace, name)
        if cm is None:
            if optional:
                return {}
            raise VolumeError(f'{where}: configmap "{name}" not found')
        default = _mode(spec.get("defaultMode"), mode if mode is not None else DEFAULT_MODE)
        return key_files(config_map_data(cm), spec.get("items"), default, where, optional)

    def _secret(
        self, spec: Obj, namespace: str, source: ObjectSource, where: str, mode: int | None
    ) -> dict[str, FileContent]:
        name = str(spec.get("secretName") or spec.get("name") or "")
        optional = bool(spec.get("optional"))
        secret = source.secret(namespace, name)
        if secret is None:
            if optional:
                return {}
            raise VolumeError(f'{where}: secret "{name}" not found')
        default = _mode(spec.get("defaultMode"), mode if mode is not None else DEFAULT_MODE)
        return key_files(secret_data(secret), spec.get("items"), default, where, optional)

    def _token(self, pod: Obj, spec: Obj, where: str, mode: int) -> dict[str, FileContent]:
        token = self.tokens.token(pod, spec) if self.tokens is not None else None
        if token is None:
            raise VolumeError(f"{where}: no service account token (not fetched yet)")
        path = _clean_relpath(str(spec.get("path") or ""), where)
        return {path: FileContent(token.encode(), mode)}

    def teardown(self, uid: str) -> None:
        """Remove the pod's own volumes (claims and host paths stay)."""
        shutil.rmtree(self.pod_dir(uid), ignore_errors=True)
        if self.tokens is not None:
            self.tokens.forget(uid)


def container_mounts(container: Obj, paths: dict[str, Path]) -> tuple[Mount, ...]:
    """The runtime mounts for a container's ``volumeMounts`` (subPath, readOnly)."""
    out = []
    name = container.get("name", "")
    for i, vm in enumerate(container.get("volumeMounts") or []):
        volume = str(vm.get("name") or "")
        where = f"container {name!r} volumeMounts[{i}]"
        if volume not in paths:
            raise VolumeError(f'{where}: no volume named "{volume}" in the pod')
        host = paths[volume]
        sub = str(vm.get("subPath") or "")
        if sub:
            host = host / _clean_relpath(sub, f"{where}.subPath")
            if not host.exists() and not host.is_symlink():
                host.mkdir(parents=True, exist_ok=True)  # as the kubelet: a missing subPath is made
        mount_path = str(vm.get("mountPath") or "")
        if not mount_path.startswith("/"):
            raise VolumeError(f"{where}: mountPath {mount_path!r} must be absolute")
        out.append(Mount(str(host), mount_path, bool(vm.get("readOnly"))))
    return tuple(out)
