"""Dependency caches keyed by the hash of what decides them.

A buildpack names its dependencies by a key: the sha256 of the lockfile's
bytes plus everything else that changes the installed result (the
interpreter's version and platform, the package tool's version, a layout
version of ours). An installed tree lives at ``<cache>/<kind>/<key>/``;
a push that changes only app code has the same key and reuses it without
running pip or npm at all.

Filling is atomic: the install runs into ``<kind>/.tmp-<key>-<random>`` and
is renamed into place when it succeeded, so a killed or failed build leaves
no half-installed entry (two builds racing on one key both install; the
first rename wins, the second's copy is dropped). Entries are never
modified afterwards: builds get hard links (``link_tree``), and a buildpack
that writes into its dependencies afterwards (a Node build script) copies.

Nothing is evicted yet: the cache grows by one tree per distinct lockfile.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

LAYOUT = b"paas-deps-1"  # bump when what a cached tree holds changes


def dependency_key(*parts: bytes | str) -> str:
    """The sha256 of ``parts`` (lockfile bytes, tool versions), unambiguously joined."""
    sha = hashlib.sha256(LAYOUT)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        sha.update(len(data).to_bytes(8, "big"))
        sha.update(data)
    return sha.hexdigest()


class DependencyCache:
    """Installed dependency trees by (kind, key)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entry(self, kind: str, key: str) -> Path:
        return self.directory / kind / key

    def lookup(self, kind: str, key: str) -> Path | None:
        path = self.entry(kind, key)
        return path if path.is_dir() else None

    def fill(self, kind: str, key: str, install: Callable[[Path], None]) -> Path:
        """Run ``install(tmpdir)`` and keep its tree as the entry; any failure keeps nothing."""
        parent = self.directory / kind
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:12]}-", dir=parent))
        try:
            install(tmp)
            try:
                os.rename(tmp, self.entry(kind, key))
            except OSError:
                if not self.entry(kind, key).is_dir():
                    raise
                shutil.rmtree(tmp)  # another build filled it first: theirs is as good
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.entry(kind, key)


def link_tree(source: Path, target: Path) -> None:
    """Recreate ``source`` at ``target`` with hard links (copies across filesystems)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link)


def copy_tree(source: Path, target: Path) -> None:
    """A real copy, for trees the build goes on to write into."""
    shutil.copytree(source, target, symlinks=True)
