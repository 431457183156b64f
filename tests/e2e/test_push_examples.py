"""Every example in ``examples/``, pushed with the real git client through ``paas up``.

One ``paas up`` per runtime (process always; Docker where an engine answers,
and in CI, where a missing engine fails the test), and the examples pushed
side by side, each going through its own cycle:

1. push ``main``: the push ends saying the URL is live, and it answers 200;
2. push a change: the new text is served;
3. push a broken commit: the push fails with the reason, the change stays
   served;
4. push the same code to a preview branch, which gets its own host; delete
   the branch (``git push paas :preview``): its Knative Service (with its
   Revisions and their Deployments, ReplicaSets, pods and Services), the
   HTTPRoute of its host and its Builds go, and its host answers 404.

The Dockerfile example runs the cycle on Docker (``docker build``, the image
pushed to the registry ``paas up`` runs and deployed pinned by digest; its
pull from there is test_push_dockerfile_registry.py's); on the process
runtime its push is refused saying that only buildpack apps run there.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.gitpush import GitUser
from support.paasup import Up, start_up
from support.pushsite import Site
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = 60  # seconds for a served change to show (a deploy takes about 3 s here)


@dataclass(frozen=True)
class Example:
    app: str  # the example's directory, and the app it is pushed as
    served: str  # in the body of its first version
    file: str  # what the change and the check edit
    changed: str  # ``served`` after the change
    breaks: Callable[[GitUser], None]  # commits something that must not build
    reason: str  # what the refused push's last line says about it


def commit(files: dict[str, str], message: str) -> Callable[[GitUser], None]:
    return lambda dev: dev.commit(files, message) and None


def remove(path: str) -> Callable[[GitUser], None]:
    def run(dev: GitUser) -> None:
        dev.git("rm", "-q", path)
        dev.git("commit", "-q", "-m", f"remove {path}")

    return run


def dockerfile_with(extra: str) -> Callable[[GitUser], None]:
    def run(dev: GitUser) -> None:
        text = (dev.tree / "Dockerfile").read_text() + extra
        dev.commit({"Dockerfile": text}, "a Dockerfile step that fails")

    return run


PYTHON = Example(
    "python-flask",
    "Hello from Python on branch main!",
    "app.py",
    "Hello v2 from Python",
    commit({"requirements.txt": "flask==3.1.3\nnot a requirement!\n"}, "bad requirements"),
    "pip install exited with 1: ERROR: Invalid requirement: 'not a requirement!'",
)
NODE = Example(
    "node-hello",
    "Hello from Node.js, up for",
    "server.js",
    "Hello v2 from Node.js",
    commit({"package.json": "{"}, "bad package.json"),
    "package.json is not valid JSON",
)
STATIC = Example(
    "static-site",
    "<h1>Hello from a static site</h1>",
    "public/index.html",
    "Hello v2 from a static site",
    remove("public/index.html"),
    "nothing to build: no known file at the repository's root. Looked for: Dockerfile;",
)
DOCKERFILE = Example(
    "dockerfile-app",
    "<h1>Hello from an image built from a Dockerfile</h1>",
    "index.html",
    "Hello v2 from an image",
    dockerfile_with("RUN echo failing on purpose && exit 3\n"),
    "docker build exited with ",  # then the engine's own words for the RUN step's exit 3
)
BUILDPACKS = (PYTHON, NODE, STATIC)


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    flags: tuple[str, ...] = ("--network", "loopback")
    if request.param == "docker":
        request.getfixturevalue("stack_image")  # the engine, or a skip (a failure in CI)
        flags = ()
    with start_up(tmp_path / "paas", request.param, *flags) as running:
        yield running


def clone_of(example: Example, home: Path) -> GitUser:
    dev = GitUser(home / example.app)
    shutil.copytree(ROOT / "examples" / example.app, dev.tree, dirs_exist_ok=True)
    dev.git("add", "-A")
    dev.git("commit", "-q", "-m", example.app)
    return dev


def served(site: Site, host: str, text: str) -> bool:
    status, body = site.get(host)
    return status == 200 and text in body


def push_cycle(site: Site, example: Example, home: Path) -> dict[str, float]:
    """Push, change, break, preview and delete one example; seconds each step took."""
    app, times = example.app, {}
    dev = clone_of(example, home)
    host, preview = f"{app}.localhost", f"preview--{app}.localhost"
    remote = site.remote(app)

    started = time.monotonic()
    done = dev.push(remote, "main")
    assert done.returncode == 0, f"{app}: {done.stderr}"
    assert f"remote: -----> main is live at {site.url(host)}" in done.stderr, done.stderr
    wait_until(lambda: served(site, host, example.served), DEPLOYED, f"{app} to answer")
    times["first"] = time.monotonic() - started

    started = time.monotonic()
    text = (dev.tree / example.file).read_text()
    first_words = example.changed.replace(" v2", "")
    assert first_words in text, f"{example.file} of {app} no longer says {first_words!r}"
    dev.commit({example.file: text.replace(first_words, example.changed)}, "v2")
    done = dev.push(remote, "main")
    assert done.returncode == 0, f"{app}: {done.stderr}"
    wait_until(lambda: served(site, host, example.changed), DEPLOYED, f"{app} v2 to serve")
    times["change"] = time.monotonic() - started

    started = time.monotonic()
    example.breaks(dev)
    done = dev.push(remote, "main")
    assert done.returncode == 1, f"{app}: {done.stderr}"
    [failed] = [line for line in done.stderr.splitlines() if " !     Build failed: " in line]
    assert example.reason in failed, f"{app}: {done.stderr}"  # the last word is the reason
    assert "Nothing was deployed; what was live stays live." in done.stderr, done.stderr
    assert "(pre-receive hook declined)" in done.stderr, done.stderr
    assert served(site, host, example.changed), site.get(host)
    dev.git("reset", "-q", "--hard", "HEAD~1")
    times["broken"] = time.monotonic() - started

    started = time.monotonic()
    done = dev.push(remote, "main:preview")
    assert done.returncode == 0, f"{app}: {done.stderr}"
    assert f"preview is live at {site.url(preview)}" in done.stderr, done.stderr
    assert served(site, preview, example.changed), site.get(preview)
    assert site.branch_objects(app, "preview"), f"{app}: the preview has no objects"
    done = dev.push(remote, ":preview")
    assert done.returncode == 0, f"{app}: {done.stderr}"
    assert f"Deleted branch preview of {app}" in done.stderr, done.stderr
    wait_until(lambda: not site.branch_objects(app, "preview"), 30, f"{app} preview to go")
    assert site.get(preview)[0] == 404
    assert served(site, host, example.changed), "deleting the preview touched main"
    times["preview"] = time.monotonic() - started
    return times


def test_each_example_deploys_changes_refuses_a_broken_commit_and_its_branch_goes(
    up: Up, tmp_path: Path
) -> None:
    site = Site(up)
    examples = [*BUILDPACKS, DOCKERFILE] if up.runtime == "docker" else list(BUILDPACKS)
    with ThreadPoolExecutor(len(examples)) as pool:
        cycles = {e.app: pool.submit(push_cycle, site, e, tmp_path / "home") for e in examples}
        if up.runtime != "docker":
            refuse_dockerfile_on_process_runtime(site, tmp_path / "home")
        timings = {app: cycle.result() for app, cycle in cycles.items()}
    print(f"\n{up.runtime} runtime, seconds per step:")
    for app, times in timings.items():
        print(f"  {app:15} " + "  ".join(f"{step} {s:5.2f}" for step, s in times.items()))


def refuse_dockerfile_on_process_runtime(site: Site, home: Path) -> None:
    """The process runtime runs slugs only: a Dockerfile is refused at once, saying so."""
    dev = clone_of(DOCKERFILE, home)
    done = dev.push(site.remote(DOCKERFILE.app), "main")
    assert done.returncode == 1, done.stderr
    assert "this platform's nodes run the process runtime" in done.stderr, done.stderr
    assert "Nothing was deployed" in done.stderr, done.stderr
    assert site.get(f"{DOCKERFILE.app}.localhost")[0] == 404
