"""The base stack image on Docker: Debian bookworm with python3 and nodejs, built locally.

No registry is reachable, so the image every app can start from is made from
Debian packages on the machine itself: ``mmdebstrap --variant=minbase``
writes a root file system as a tar stream to stdout, and the engine imports
that stream as an image (``docker import``) with a ``PATH``, a UTF-8 locale
and a default command. Nothing touches the disk between the two: the tar goes
from mmdebstrap's stdout straight into the import request.

The packages come from the mirror this machine's own apt uses (read from
``/etc/apt/sources.list`` and ``/etc/apt/sources.list.d/``, both the one-line
and the deb822 format), so a machine behind a local mirror builds from it;
without a matching entry, Debian's public mirror is used.

Building is idempotent: an image that is present is kept unless ``force``;
a lock file serialises builds on one machine, so two test sessions (or a
test session and ``paas stack build``) never build at once, and the second
one finds the image made by the first. A failed build leaves whatever image
was there untouched: the tag moves only when an import completes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from orchestrator.kubelet.runtimes.base import STACK_IMAGE

Progress = Callable[[str], None]
DEFAULT_MIRRORS = (
    "deb http://deb.debian.org/debian {suite} main",
    "deb http://deb.debian.org/debian {suite}-updates main",
    "deb http://deb.debian.org/debian-security {suite}-security main",
)
APT_SOURCES = Path("/etc/apt")
CHUNK = 1 << 20


PACKAGES_LABEL = "paas.dev/stack-packages"  # what the image was built with


class StackBuildError(Exception):
    """The stack image could not be built; the message says why and what to do."""


@dataclass(frozen=True)
class StackSettings:
    """What goes into the stack image and where it comes from."""

    image: str = STACK_IMAGE  # repository:tag the import is tagged with
    suite: str = "bookworm"  # the Debian release (matches the image's tag)
    packages: tuple[str, ...] = ("python3", "nodejs", "ca-certificates", "curl")  # + minbase
    mirrors: tuple[str, ...] = ()  # sources.list lines; () = this machine's apt sources
    docker_url: str = "unix:///var/run/docker.sock"  # the engine that imports the image
    lock_path: str = "/tmp/paas-stack-build.lock"  # serialises builds on this machine
    # Documentation, manuals and translations: a tenth of the image, never read by an app.
    path_excludes: tuple[str, ...] = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*")


@dataclass(frozen=True)
class StackResult:
    image: str
    image_id: str
    built: bool  # False: it was present and kept
    seconds: float


def host_mirrors(suite: str, root: Path = APT_SOURCES) -> tuple[str, ...]:
    """This machine's apt entries for ``suite`` and its -updates/-security, as one-line entries."""
    entries: list[str] = []
    for uri, suites, components in _apt_entries(root):
        for s in suites:
            if s == suite or s.startswith(suite + "-"):
                line = f"deb {uri} {s} {' '.join(components or ['main'])}"
                if line not in entries:
                    entries.append(line)
    return tuple(entries)


def _apt_entries(root: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(uri, suites, components) of every ``deb`` entry in apt's sources, both formats."""
    files = [root / "sources.list"]
    listdir = root / "sources.list.d"
    if listdir.is_dir():
        files += sorted(listdir.iterdir())
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name.endswith(".list"):
            yield from _one_line_entries(text)
        elif path.name.endswith(".sources"):
            yield from _deb822_entries(text)


def _one_line_entries(text: str) -> Iterator[tuple[str, list[str], list[str]]]:
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], [words[1]], words[2:]


def _deb822_entries(text: str) -> Iterator[tuple[str, list[str], list[str]]]:
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            key, _, value = raw.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()


def mmdebstrap_argv(settings: StackSettings) -> list[str]:
    """The command that writes the root file system as a tar stream to stdout."""
    mirrors = settings.mirrors or host_mirrors(settings.suite)
    if not mirrors:
        mirrors = tuple(m.format(suite=settings.suite) for m in DEFAULT_MIRRORS)
    argv = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(settings.packages),
        '--aptopt=Acquire::Retries "3"',
    ]
    argv += [f"--dpkgopt=path-exclude={p}" for p in settings.path_excludes]
    return [*argv, settings.suite, "-", *mirrors]


def import_changes(settings: StackSettings) -> list[str]:
    """Dockerfile instructions applied on import: what `docker run IMAGE` starts with."""
    return [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        f"LABEL paas.dev/stack={settings.suite}",
        f"LABEL {PACKAGES_LABEL}={','.join(settings.packages)}",
        'CMD ["/bin/bash"]',
    ]


def present_image_id(client: docker.DockerClient, image: str, packages: str | None = None) -> str:
    """The image's ID if the engine has it (built with ``packages``, when given), else ""."""
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        return ""
    if packages is not None and (found.labels or {}).get(PACKAGES_LABEL) != packages:
        return ""  # an image from before the package list changed: build it again
    return str(found.id)


def build_stack_image(
    settings: StackSettings = StackSettings(),
    *,
    force: bool = False,
    progress: Progress = lambda line: None,
) -> StackResult:
    """Build the stack image unless the engine has it already (or ``force``)."""
    started = time.monotonic()
    try:
        client = docker.DockerClient(base_url=settings.docker_url, timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        raise StackBuildError(
            f"no Docker engine answers at {settings.docker_url}: {exc}; start dockerd first"
        ) from exc
    try:
        with _build_lock(settings.lock_path, progress):
            existing = present_image_id(client, settings.image, ",".join(settings.packages))
            if existing and not force:
                return StackResult(settings.image, existing, False, time.monotonic() - started)
            image_id = _build(client, settings, progress)
            return StackResult(settings.image, image_id, True, time.monotonic() - started)
    finally:
        client.close()


@contextlib.contextmanager
def _build_lock(path: str, progress: Progress) -> Iterator[None]:
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another build holds {path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(client: docker.DockerClient, settings: StackSettings, progress: Progress) -> str:
    if shutil.which("mmdebstrap") is None:
        raise StackBuildError(
            "mmdebstrap is not installed: `apt-get install mmdebstrap`, then build again"
        )
    argv = mmdebstrap_argv(settings)
    progress("running " + " ".join(argv))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    tail: list[str] = []
    relay = threading.Thread(target=_relay, args=(proc.stderr, progress, tail), daemon=True)
    relay.start()
    sent = [0]
    refused: docker.errors.DockerException | None = None
    answer: object = None
    try:
        # Imported untagged: a tar cut short by a failing mmdebstrap must not take the tag.
        answer = client.api.import_image_from_data(
            _chunks(proc.stdout, sent, progress), changes=import_changes(settings)
        )
    except docker.errors.DockerException as exc:
        refused = exc
        proc.kill()
    finally:
        proc.stdout.close()
        rc = proc.wait()
        relay.join(timeout=10)
        proc.stderr.close()
    image_id = _imported_id(answer)
    if rc != 0:
        if image_id:
            _remove_quietly(client, image_id)
        raise StackBuildError(
            f"mmdebstrap failed (exit {rc}); {settings.image} was not changed. Last lines:\n"
            + "\n".join(tail[-15:])
        )
    if refused is not None or not image_id:
        raise StackBuildError(
            f"the engine refused the import of {settings.image}: {refused or answer}"
        ) from refused
    repository, _, tag = settings.image.rpartition(":")
    client.api.tag(image_id, repository, tag)
    progress(f"imported {sent[0] / 1e6:.0f} MB as {settings.image} ({image_id[:19]})")
    return image_id


def _remove_quietly(client: docker.DockerClient, image_id: str) -> None:
    with contextlib.suppress(docker.errors.DockerException):
        client.api.remove_image(image_id)


def _relay(stream: object, progress: Progress, tail: list[str]) -> None:
    """mmdebstrap's own progress lines ("I: ...") to the caller, the last ones kept for errors."""
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode(errors="replace").rstrip()
        tail.append(line)
        del tail[:-50]
        progress(line)


def _chunks(stdout: object, sent: list[int], progress: Progress) -> Iterator[bytes]:
    next_report = 50_000_000
    while chunk := stdout.read(CHUNK):  # type: ignore[attr-defined]
        sent[0] += len(chunk)
        if sent[0] >= next_report:
            progress(f"importing: {sent[0] / 1e6:.0f} MB sent to the engine")
            next_report += 50_000_000
        yield chunk


def _imported_id(answer: object) -> str:
    """The image ID from the engine's answer to an import (a JSON line with ``status``)."""
    for line in str(answer or "").splitlines():
        try:
            status = json.loads(line).get("status", "")
        except (ValueError, AttributeError):
            continue
        if isinstance(status, str) and status.startswith("sha256:"):
            return status
    return ""
