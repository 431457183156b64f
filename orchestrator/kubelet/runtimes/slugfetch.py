"""Fetching a slug from the builder onto this node: download, check the digest, unpack atomically.

A slug is named by the sha256 of its archive, so what arrives is checked
against its name before anything is unpacked: ``GET
<source>/slugs/sha256:<hex>.tar.gz`` is streamed into a temporary file under
the slug directory while hashed, a mismatch (a truncated or corrupted
download, a wrong server) is refused with ErrImagePull saying so, and
nothing is kept. A good archive is unpacked into a temporary directory
beside the target with tarfile's ``data`` filter (no absolute paths, no
links leaving the tree, no device files, no setuid bits), then renamed to
``sha256-<hex>/``: a reader sees the whole slug or none, and two fetches
racing for one slug both succeed (the second rename finds the first's
directory and drops its own copy).

Downloads are bounded (``max_bytes``) and time out (``timeout``); both come
from the runtime's settings. The standard library's urllib is enough: one
GET of an immutable file, no connection reuse needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from orchestrator.kubelet.runtimes.base import ImageError

CHUNK = 1 << 20


def slug_url(source: str, digest: str) -> str:
    return f"{source.rstrip('/')}/slugs/sha256:{digest}.tar.gz"


def fetch_slug(
    source: str, digest: str, slug_dir: Path, timeout: float = 60.0, max_bytes: int = 1 << 31
) -> Path:
    """Make ``<slug_dir>/sha256-<digest>/`` exist, fetched from ``source``; ImageError if not."""
    image = f"slug:sha256:{digest}"
    target = slug_dir / f"sha256-{digest}"
    if target.is_dir():
        return target
    slug_dir.mkdir(parents=True, exist_ok=True)
    url = slug_url(source, digest)
    fd, archive = tempfile.mkstemp(prefix=f".fetch-{digest[:12]}-", suffix=".tar.gz", dir=slug_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            got = _download(url, f, timeout, max_bytes, image)
        if got != digest:
            raise ImageError(
                "ErrImagePull",
                f'image "{image}": the download from {url} has sha256 {got}, not the slug\'s '
                "digest; refused (a corrupt or truncated transfer, or the wrong builder)",
            )
        _unpack(Path(archive), target, image)
    finally:
        Path(archive).unlink(missing_ok=True)
    return target


def _download(url: str, f: object, timeout: float, max_bytes: int, image: str) -> str:
    sha = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ImageError(
                        "ErrImagePull",
                        f'image "{image}": {url} is larger than {max_bytes} bytes; refused',
                    )
                sha.update(chunk)
                f.write(chunk)  # type: ignore[attr-defined]
    except urllib.error.HTTPError as exc:
        exc.close()  # the error is the response: its connection goes with it
        raise ImageError(
            "ErrImagePull", f'image "{image}": GET {url} answered {exc.code} {exc.reason}'
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError("ErrImagePull", f'image "{image}": GET {url} failed: {reason}') from exc
    return sha.hexdigest()


def _unpack(archive: Path, target: Path, image: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".unpack-{target.name[7:19]}-", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ImageError("ErrImagePull", f'image "{image}": cannot unpack: {exc}') from exc
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                shutil.rmtree(tmp)
