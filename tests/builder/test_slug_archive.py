"""Slug archives are deterministic: same tree -> same bytes -> same digest, wherever it was made."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from support.slugserver import EXAMPLES

from builder.build import BuildSettings, build
from builder.slugs import SlugError, SlugStore, tree_digest


def make_tree(root: Path, mtime: int) -> Path:
    (root / "app" / "lib").mkdir(parents=True)
    (root / "app" / "lib" / "b.txt").write_text("b")
    (root / "app" / "a.sh").write_text("#!/bin/sh\necho a\n")
    (root / "app" / "a.sh").chmod(0o750)
    (root / "slug.json").write_text("{}")
    os.symlink("lib/b.txt", root / "app" / "link")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return root


def test_the_same_tree_packs_to_the_same_digest_whatever_its_mtimes_and_place(
    tmp_path: Path,
) -> None:
    store = SlugStore(tmp_path / "store")
    first, existed_first = store.add(make_tree(tmp_path / "one", 1_000_000))
    second, existed_second = store.add(make_tree(tmp_path / "two", 2_000_000))
    assert first == second and not existed_first and existed_second
    with tarfile.open(store.path(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["app/a.sh"].mode == 0o755 and members["app/lib/b.txt"].mode == 0o644
    assert members["app/link"].issym() and members["app/link"].linkname == "lib/b.txt"
    assert {m.uid for m in members.values()} == {0} and len(
        {m.mtime for m in members.values()}
    ) == 1
    assert store.path(first).read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime 0


def test_a_symlink_leaving_the_slug_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t", 0)
    os.symlink("../../../etc/passwd", root / "app" / "escape")
    with pytest.raises(SlugError, match="leaves the app"):
        SlugStore(tmp_path / "store").add(root)
    assert not list((tmp_path / "store").glob("*.tar.gz"))


def test_tree_digest_ignores_git_and_sees_content_and_mode(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t", 0)
    before = tree_digest(root)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main")
    assert tree_digest(root) == before
    (root / "app" / "lib" / "b.txt").chmod(0o755)
    assert tree_digest(root) != before


def test_building_the_same_commit_twice_gives_the_same_slug_without_rebuilding(
    tmp_path: Path, build_settings: BuildSettings
) -> None:
    first = build(EXAMPLES / "node-hello", lambda line: None, build_settings)
    lines: list[str] = []
    again = build(EXAMPLES / "node-hello", lines.append, build_settings)
    assert again.digest == first.digest and again.reused and not first.reused
    assert not any("npm" in line for line in lines)
    # a fresh store and cache elsewhere: still byte-identical
    elsewhere = BuildSettings(slug_dir=tmp_path / "s2", cache_dir=tmp_path / "c2")
    assert build(EXAMPLES / "node-hello", lambda line: None, elsewhere).digest == first.digest
