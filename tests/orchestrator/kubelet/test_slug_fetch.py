"""The node fetches a slug from the builder on first use: digest checked, unpacked atomically.

A plain HTTP server on loopback plays the builder (``GET /slugs/sha256:<hex>.tar.gz``
from a directory); the process runtime with it as its slug source fetches
on ``ensure_image`` and runs the slug's command from its own directory.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.wait import eventually

from orchestrator.kubelet.runtimes.base import ContainerSpec, ImageError, SandboxSpec
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.runtimes.slugfetch import fetch_slug


def slug_archive(files: dict[str, tuple[bytes, int]], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def publish(root: Path, data: bytes, served: bytes | None = None) -> str:
    """Serve ``served`` (default: ``data``) under ``data``'s digest; return the digest."""
    digest = hashlib.sha256(data).hexdigest()
    (root / "slugs").mkdir(exist_ok=True)
    (root / "slugs" / f"sha256:{digest}.tar.gz").write_bytes(served if served is not None else data)
    return digest


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def builder_on_loopback(root: Path) -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


HELLO = {
    "slug.json": (json.dumps({"entrypoint": ["sh", "-c"], "cmd": ["./app/hello"]}).encode(), 0o644),
    "app/hello": (b"#!/bin/sh\necho hello from $(pwd)\n", 0o755),
}


def test_a_fetched_slug_is_unpacked_with_its_modes_and_nothing_else_left(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    digest = publish(tmp_path / "www", slug_archive(HELLO))
    with builder_on_loopback(tmp_path / "www") as url:
        path = fetch_slug(url, digest, tmp_path / "slugs")
    assert path == tmp_path / "slugs" / f"sha256-{digest}"
    assert (path / "app" / "hello").stat().st_mode & 0o111
    assert [p.name for p in (tmp_path / "slugs").iterdir()] == [path.name]


def test_a_corrupt_download_is_refused_by_its_digest(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    good = slug_archive(HELLO)
    digest = publish(tmp_path / "www", good, served=good[:-10] + b"0123456789")
    with builder_on_loopback(tmp_path / "www") as url, pytest.raises(ImageError) as refused:
        fetch_slug(url, digest, tmp_path / "slugs")
    assert refused.value.reason == "ErrImagePull"
    assert "not the slug's digest" in refused.value.message
    assert list((tmp_path / "slugs").iterdir()) == []


def test_a_slug_the_builder_does_not_have_is_an_image_pull_error(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    with builder_on_loopback(tmp_path / "www") as url, pytest.raises(ImageError) as missing:
        fetch_slug(url, "ab" * 32, tmp_path / "slugs")
    assert missing.value.reason == "ErrImagePull" and "answered 404" in missing.value.message


def test_a_slug_with_a_link_leaving_it_is_not_unpacked(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    digest = publish(tmp_path / "www", slug_archive(HELLO, {"app/evil": "../../../../etc/passwd"}))
    with builder_on_loopback(tmp_path / "www") as url, pytest.raises(ImageError, match="unpack"):
        fetch_slug(url, digest, tmp_path / "slugs")
    assert not (tmp_path / "slugs" / f"sha256-{digest}").exists()


async def test_the_process_runtime_fetches_a_slug_on_first_use_and_runs_it(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    digest = publish(tmp_path / "www", slug_archive(HELLO))
    image = f"slug:sha256:{digest}"
    with builder_on_loopback(tmp_path / "www") as url:
        settings = ProcessRuntimeSettings(
            network="loopback",
            isolation="off",
            exit_poll_interval=0.1,
            slug_dir=tmp_path / "slugs",
            slug_source=url,
        )
        runtime = ProcessRuntime(tmp_path / "state", f"fetch-{uuid.uuid4().hex[:6]}", settings)
        await runtime.start("")
        try:
            sandbox = await runtime.run_sandbox(
                SandboxSpec(pod_uid=str(uuid.uuid4()), namespace="default", name="p", hostname="p")
            )
            spec = ContainerSpec(
                pod_uid=sandbox.pod_uid, namespace="default", pod_name="p", name="c", attempt=0,
                image=image,
            )  # fmt: skip
            never = ContainerSpec(**{**spec.__dict__, "image_pull_policy": "Never"})
            with pytest.raises(ImageError) as not_present:
                await runtime.ensure_image(never)
            assert not_present.value.reason == "ErrImageNeverPull"
            assert await runtime.ensure_image(spec) == image
            state = await runtime.start_container(sandbox, spec)
            log = tmp_path / "slugs" / f"sha256-{digest}" / "app"
            await eventually(
                lambda: any(
                    f"hello from {log.parent}" in p.read_text()
                    for p in (tmp_path / "state").rglob("*.log")
                ),
                timeout=10,
                message=f"the slug's command did not run ({state.id})",
            )
        finally:
            await runtime.teardown()
