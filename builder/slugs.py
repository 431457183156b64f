"""The slug store: deterministic ``.tar.gz`` archives named by their sha256.

A slug is a directory (``slug.json``, ``app/``, the dependencies, ``.paas/``)
packed so that the same tree always gives the same bytes, hence the same
name: entries sorted by path, mtimes fixed at ``SOURCE_EPOCH``, owner 0/0
with empty names, modes reduced to 0755/0644 (the executable bit is all
that matters to a slug), regular files always stored whole (never as
hard links, which would depend on how the tree was assembled), and gzip
written with mtime 0 and no file name in its header. So a push of the same
commit with the same dependencies gives the same digest, and the builder
can say "reused" instead of storing a second copy.

Layout on disk: ``<store>/sha256-<hex>.tar.gz`` (written to a temporary
file, hashed while written, then renamed: a reader never sees half a slug),
plus ``<store>/keys/<build key>`` naming the digest a build key produced,
so an identical build is skipped before any work. The builder serves
``GET /slugs/sha256:<hex>.tar.gz`` from here (``slug_route``); the node
fetches, checks the digest and unpacks (orchestrator/kubelet/runtimes/slugfetch.py).

A symlink that leaves the slug (absolute, or climbing out with ``..``) is
refused when packing: the node's unpacking would refuse it anyway, and
later is a worse time to learn it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

SOURCE_EPOCH = 315532800  # 1980-01-01: what zip and reproducible-builds tooling use
GZIP_LEVEL = 6  # gzip's default: 9 costs twice the time here for ~2% less size
CHUNK = 1 << 20
NAME_RE = re.compile(r"^sha256:([0-9a-f]{64})\.tar\.gz$")
IMAGE_RE = re.compile(r"^slug:sha256:([0-9a-f]{64})$")


class SlugError(Exception):
    """The tree cannot become a slug (a link leaving it, an unreadable file)."""


class _HashingWriter(io.RawIOBase):
    """A file that hashes what goes through it, for gzip to write into."""

    def __init__(self, target: io.BufferedWriter) -> None:
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha.update(data)
        self.size += len(data)
        return self.target.write(data)


def _entries(root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every entry under ``root``, sorted by name, parents first."""
    names: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            names.append((path.relative_to(root).as_posix(), path))
    names.sort(key=lambda item: item[0].split("/"))
    yield from names


def _check_link(root: Path, name: str, target: str) -> None:
    if os.path.isabs(target):
        raise SlugError(f"{name} is a symlink to an absolute path ({target}); make it relative")
    resolved = os.path.normpath(os.path.join(os.path.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise SlugError(f"{name} is a symlink that leaves the app ({target})")


def _tarinfo(root: Path, name: str, path: Path) -> tarfile.TarInfo | None:
    st = path.lstat()
    info = tarfile.TarInfo(name)
    info.mtime = SOURCE_EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISDIR(st.st_mode):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        _check_link(root, name, target)
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, target
    elif stat.S_ISREG(st.st_mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    else:
        return None  # sockets, fifos, devices: nothing an app ships
    return info


def pack(root: Path, out: io.BufferedWriter) -> tuple[str, int]:
    """Write ``root`` as a deterministic tar.gz into ``out``; return (sha256 hex, size)."""
    writer = _HashingWriter(out)
    with (
        gzip.GzipFile(
            filename="", mode="wb", fileobj=writer, compresslevel=GZIP_LEVEL, mtime=0
        ) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, path in _entries(root):
            info = _tarinfo(root, name, path)
            if info is None:
                continue
            if info.type == tarfile.REGTYPE:
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return writer.sha.hexdigest(), writer.size


def tree_digest(root: Path, skip: tuple[str, ...] = (".git",)) -> str:
    """The sha256 of a tree's names, kinds, executable bits and contents, ``skip`` left out."""
    sha = hashlib.sha256(b"paas-tree-1")
    for name, path in _entries(root):
        if name.split("/", 1)[0] in skip:
            continue
        info = _tarinfo(root, name, path)
        if info is None:
            continue
        sha.update(
            f"\0{name}\0{info.type.decode()}{info.mode:o}\0{info.linkname}\0{info.size}\0".encode()
        )
        if info.type == tarfile.REGTYPE:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    sha.update(chunk)
    return sha.hexdigest()


class SlugStore:
    """The builder's slugs on disk, by digest."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, digest: str) -> Path:
        return self.directory / f"sha256-{digest}.tar.gz"

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def add(self, root: Path) -> tuple[str, bool]:
        """Pack ``root`` into the store; return (digest, whether that slug was already there)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".packing-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                digest, _ = pack(root, f)
            existed = self.has(digest)
            os.replace(tmp, self.path(digest))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, existed

    def remember(self, key: str, digest: str) -> None:
        """Note that build ``key`` gave ``digest`` (so the next identical build is skipped)."""
        keys = self.directory / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        tmp = keys / f".{key}.{os.getpid()}"
        tmp.write_text(digest)
        os.replace(tmp, keys / key)

    def recall(self, key: str) -> str | None:
        """The digest build ``key`` gave before, if that slug is still stored."""
        try:
            digest = (self.directory / "keys" / key).read_text().strip()
        except OSError:
            return None
        return digest if re.fullmatch(r"[0-9a-f]{64}", digest) and self.has(digest) else None

    def file_for(self, name: str) -> Path | None:
        """The archive served as ``/slugs/<name>`` (``sha256:<hex>.tar.gz``), if stored."""
        match = NAME_RE.match(name)
        if match is None:
            return None
        path = self.path(match.group(1))
        return path if path.is_file() else None

    def read_meta(self, digest: str) -> dict[str, object]:
        """The slug's ``slug.json`` (start command, env, ``release``), read from the archive."""
        with tarfile.open(self.path(digest), "r:gz") as tar:
            member = tar.extractfile("slug.json")
            if member is None:
                raise SlugError(f"slug sha256:{digest} has no slug.json")
            loaded = json.loads(member.read())
        if not isinstance(loaded, dict):
            raise SlugError(f"slug sha256:{digest}: slug.json is not an object")
        return loaded


def slug_route(store: SlugStore) -> Route:
    """A Starlette route serving ``GET/HEAD /slugs/sha256:<hex>.tar.gz`` from ``store``.

    The archive is immutable (named by its digest), so clients may cache it forever.
    """

    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        path = store.file_for(name)
        if path is None:
            return PlainTextResponse(f"no slug {name}\n", status_code=404)
        return FileResponse(
            path,
            media_type="application/gzip",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    return Route("/slugs/{name}", serve, methods=["GET", "HEAD"])
