"""Bad input to ``git push``, with the real git client and the real buildpacks.

Through one ``paas up`` (process runtime, the router in front of git):

- a wrong token: 401, and no App, no repository, no Build;
- branch names a DNS label cannot hold: ``Feature/Ünïcode__x`` gets a
  readable slug (accents dropped, runs of other characters made one ``-``)
  with a hash of the full name; ``feature/unicode-x`` and
  ``feature-unicode-x``, which would collide with it, get hosts of their
  own, and each host serves its own branch; a 120-character branch is cut
  to fit, readable, and gets the same host when pushed again;
- a 200 MB file, streamed through the router to the builder and on into a
  slug that the node fetches and serves.

Against a builder beside a bare API server (what needs a builder setting
of its own: a short time limit, a small memory limit):

- a repository nothing recognises: refused with the list of what was
  looked for, also in the Build's status;
- a build script that runs forever: killed at the builder's time limit,
  with every process it started;
- a build step that fills memory (a Node ``build`` script, a Python
  package's ``setup.py``): refused saying it ran out of memory, with the
  limit.

Two pushes at once to one branch (the newer wins, the older is told) are
tests/builder/test_git_push_races.py's, as is a 200 MB push straight to the
builder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from support.apiserver import RunningAPI
from support.gitpush import GitUser, RunningBuilder, builds_of, start_builder
from support.paasup import Up, start_up
from support.pushsite import Site

from builder import names
from builder.settings import BuilderSettings

ROOT = Path(__file__).resolve().parents[2]
PYTHON_EXAMPLE = ROOT / "examples" / "python-flask"
LOOKED_FOR = (
    "Looked for: Dockerfile; requirements.txt or pyproject.toml (Python); "
    "package.json (Node.js); public/index.html or index.html (static site)"
)


# -- through paas up ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One ``paas up`` for the tests through it: each pushes apps of its own."""
    data_dir = tmp_path_factory.mktemp("up") / "paas"
    with start_up(data_dir, "process", "--network", "loopback") as running:
        yield running


def python_clone(home: Path) -> GitUser:
    dev = GitUser(home)
    shutil.copytree(PYTHON_EXAMPLE, dev.tree, dirs_exist_ok=True)
    dev.git("add", "-A")
    dev.git("commit", "-q", "-m", "the example")
    return dev


def test_a_wrong_token_is_refused_through_the_router_and_creates_nothing(
    up: Up, tmp_path: Path
) -> None:
    site = Site(up)
    dev = python_clone(tmp_path / "home")
    done = dev.push(site.remote("intruder", token="not-a-token"), "main")
    assert done.returncode == 128, done.stderr
    assert "fatal: Authentication failed" in done.stderr, done.stderr
    assert up.kubectl("get", "apps,builds", "-A", "-o", "name").stdout == ""
    assert not (up.data_dir / "builder" / "repos" / "default" / "intruder.git").exists()


def test_branch_names_no_dns_label_can_hold_get_readable_stable_distinct_hosts(
    up: Up, tmp_path: Path
) -> None:
    site = Site(up)
    app = "names"
    dev = python_clone(tmp_path / "home")
    assert dev.push(site.remote(app), "main").returncode == 0
    long_branch = "Release/" + "-".join(["the-quarterly-report-rework"] * 4)
    branches = ["Feature/Ünïcode__x", "feature/unicode-x", "feature-unicode-x", long_branch]
    slugs = [names.branch_slug(app, b) for b in branches]
    assert slugs[0] == "feature-unicode-x-" + names.branch_hash(branches[0])
    assert slugs[1] == "feature-unicode-x-" + names.branch_hash(branches[1])
    assert slugs[2] == "feature-unicode-x"
    assert slugs[3] == "release-the-quarterly-report-rewor-" + names.branch_hash(long_branch)
    hosts = [f"{slug}--{app}.localhost" for slug in slugs]
    assert len(set(hosts)) == len(hosts)

    def push(branch: str) -> str:
        done = dev.push(site.remote(app), f"main:refs/heads/{branch}")
        assert done.returncode == 0, f"{branch}: {done.stderr}"
        return done.stderr

    with ThreadPoolExecutor(len(branches)) as pool:
        said = list(pool.map(push, branches))
    for branch, host, out in zip(branches, hosts, said, strict=True):
        assert f"{branch} is live at {site.url(host)}" in out, out
        assert site.get(host) == (200, f"Hello from Python on branch {branch}!\n")
    for slug in slugs:
        assert len(f"{app}-{slug}{names.LONGEST_SUFFIX}") <= names.MAX_LABEL
        assert site.branch_objects(app, slug), f"no objects labelled with {slug}"
    dev.commit({"CHANGES": "again\n"}, "again")
    again = push(long_branch)
    assert f"is live at {site.url(hosts[3])}" in again, again  # the same host as before


def test_a_200_mb_file_is_pushed_through_the_router_and_served(up: Up, tmp_path: Path) -> None:
    site = Site(up)
    dev = GitUser(tmp_path / "home")
    (dev.tree / "public").mkdir()
    (dev.tree / "public" / "index.html").write_text("<h1>big</h1>\n")
    digest = hashlib.sha256()
    with (dev.tree / "public" / "big.bin").open("wb") as f:
        for _ in range(200):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            f.write(chunk)
    dev.git("add", "-A")
    dev.git("commit", "-q", "-m", "big")
    started = time.monotonic()
    done = dev.git("push", site.remote("big"), "main", check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"\n200 MB push through the router, built and live: {time.monotonic() - started:.1f}s")
    assert "main is live at" in done.stderr, done.stderr[-3000:]
    assert site.get("big.localhost") == (200, "<h1>big</h1>\n")
    status, body = site.fetch("big.localhost", "/big.bin")
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == digest.hexdigest(), f"{len(body)} bytes served"


# -- a builder with settings of its own ---------------------------------------------------

MakeBuilder = Callable[..., RunningBuilder]


@pytest.fixture
def dev(tmp_path: Path) -> GitUser:
    return GitUser(tmp_path / "home")


@pytest.fixture
def make_builder(sqlite_api: RunningAPI, tmp_path: Path) -> Iterator[MakeBuilder]:
    """``make_builder(**settings)``: a builder running the real buildpacks, stopped after."""
    started: list[RunningBuilder] = []
    base = BuilderSettings(data_dir=tmp_path / "builder", cancel_grace=1)

    def make(**changes: object) -> RunningBuilder:
        started.append(start_builder(sqlite_api, replace(base, **changes)))  # type: ignore[arg-type]
        return started[-1]

    yield make
    for running in started:
        running.stop()


def node_app(dev: GitUser, build_script: str) -> None:
    package = {"name": "bad", "version": "1.0.0", "scripts": {"build": build_script}}
    dev.commit({"package.json": json.dumps(package), "server.js": "// never started\n"})


def running(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def refused(builder: RunningBuilder, dev: GitUser, app: str) -> str:
    """Push ``main`` of ``dev`` as ``app``: it must fail and move nothing; its output."""
    done = dev.push(builder.remote(app), "main")
    assert done.returncode == 1, done.stderr
    assert "Nothing was deployed; what was live stays live." in done.stderr, done.stderr
    refs = dev.git("ls-remote", builder.remote(app)).stdout
    assert refs == "", f"a refused push left refs: {refs}"
    return done.stderr


def test_a_repository_nothing_recognises_is_refused_listing_what_was_looked_for(
    make_builder: MakeBuilder, dev: GitUser
) -> None:
    builder = make_builder()
    dev.commit({"README.md": "# notes\n", "notes.txt": "nothing to run\n"})
    out = refused(builder, dev, "notes")
    said = f"Build failed: nothing to build: no known file at the repository's root. {LOOKED_FOR}"
    assert said in out, out
    [build] = builds_of(builder, "notes")
    assert build["status"]["phase"] == "Failed"
    assert LOOKED_FOR in build["status"]["message"], build["status"]


def test_a_build_that_runs_forever_is_killed_at_the_time_limit_with_what_it_started(
    make_builder: MakeBuilder, dev: GitUser
) -> None:
    builder = make_builder(build_timeout=4)
    marker = f"{os.getpid()}.25"  # a sleep no one else runs
    node_app(dev, f"sleep {marker} & sleep {marker}")
    out = refused(builder, dev, "forever")
    assert "Running build (npm run build)" in out, out
    assert "Build failed: the build ran past its time limit (4s) and was stopped" in out, out
    assert running(f"sleep {marker}") == []
    [build] = builds_of(builder, "forever")
    assert build["status"]["phase"] == "Failed"


HOGS = {
    "node build script": lambda dev: node_app(
        dev, 'node -e "const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))"'
    ),
    "python setup.py": lambda dev: dev.commit(
        {
            "requirements.txt": "./hog\n",
            "hog/setup.py": "a = []\nwhile True:\n    a.append(bytearray(1 << 20))\n",
            "app.py": "app = None\n",
            "Procfile": "web: python3 app.py\n",
        }
    ),
}


@pytest.mark.parametrize("hog", sorted(HOGS))
def test_a_build_that_fills_its_memory_limit_is_refused_saying_so(
    make_builder: MakeBuilder, dev: GitUser, hog: str
) -> None:
    builder = make_builder(build_memory=400 << 20)
    (dev.tree / "hog").mkdir()
    HOGS[hog](dev)
    out = refused(builder, dev, "hog")
    assert "Build failed: the build ran out of memory (limit 400 MiB) and was stopped" in out, out
    [build] = builds_of(builder, "hog")
    assert "ran out of memory" in build["status"]["message"], build["status"]
