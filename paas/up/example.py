"""``paas up --example DIR``: push one app once the platform is up, so a new user sees a URL.

``make run`` passes ``examples/python-flask``. Once the banner is out, a task

1. makes ``DATA_DIR/example/<app>`` a git repository of DIR the first time
   (DIR's files, no ``.git`` of its own), committed with a fixed author and
   date: the same example gives the same commit on every run, so a second
   ``paas up`` finds it pushed ("Everything up-to-date") and builds
   nothing. Later runs keep that repository as the user left it: it is
   theirs to edit and push from. Nothing is written into DIR, so the
   project's tree never gets a repository inside it;
2. points its ``paas`` remote at this run's git URL as ``paas git-remote``
   does (a credential helper reads the token from the data dir's
   kubeconfig: it is not in the URL or in ``.git/config``) and runs ``git
   push paas main``, showing the push's steps (``----->`` lines) as they
   come, the whole output going to ``logs/example-push.log``;
3. asks the router for the app's URL until it answers 200, then says so
   with the URL and a curl line, clearly, as the last thing printed.

The task runs beside the supervisor loop; Ctrl-C cancels it and kills the
push. A failure is reported with its log and leaves the platform running:
the example is a convenience, not a component.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from builder.names import DEFAULT_NAMESPACE, host, url

BRANCH = "main"
# A fixed identity and date: the same files always make the same commit (and a machine
# without a git identity can still commit).
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "paas example",
    "GIT_AUTHOR_EMAIL": "example@paas.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "paas example",
    "GIT_COMMITTER_EMAIL": "example@paas.invalid",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


class ExampleFailed(Exception):
    """The example could not be pushed or does not answer; the message says why."""


@dataclass(frozen=True)
class ExampleSettings:
    source: Path  # the example's directory, only read
    repo: Path  # the repository pushed from: DATA_DIR/example/<app>
    log: Path  # the push's whole output
    git_base: str  # endpoints.json "git": http://git.<domain>:PORT
    router: str  # endpoints.json "http": where the URL is asked, with its Host header
    domain: str
    kubeconfig: Path  # the credential helper reads the token here
    live_timeout: float = 120.0  # a pushed app's pods restarting after `paas up` came back

    @property
    def app(self) -> str:
        return self.source.name

    @property
    def host(self) -> str:
        return host(
            self.app, BRANCH, main_branch=BRANCH, namespace=DEFAULT_NAMESPACE, domain=self.domain
        )

    @property
    def url(self) -> str:
        port = int(self.router.rpartition(":")[2])
        return url(
            self.app,
            BRANCH,
            main_branch=BRANCH,
            namespace=DEFAULT_NAMESPACE,
            domain=self.domain,
            http_port=port,
        )


async def deploy_example(s: ExampleSettings, say: Callable[[str], None]) -> str:
    """Push the example and wait for its URL to answer 200; the URL. ExampleFailed if not."""
    fresh = not (s.repo / ".git").is_dir()
    say(
        f"example: pushing {shortened(s.source)} as app {s.app} from {s.repo} "
        f"({'a new' if fresh else 'the'} repository there; log {s.log})"
    )
    if fresh:
        await make_repository(s)
    await set_remote(s)
    started = time.monotonic()
    await push(s, say)
    await until_live(s)
    say(f"example: {s.app} answers 200 ({time.monotonic() - started:.1f}s after the push began)")
    lines = [
        "",
        f"  Live: {s.url}",
        f"  try:  {curl_line(s)}",
        f"  push a change: cd {s.repo} && $EDITOR app.py && git commit -am change && "
        f"git push paas {BRANCH}",
        "",
    ]
    for line in lines:
        say(line)
    return s.url


def shortened(path: Path) -> str:
    """``path`` relative to the working directory when inside it (``make run``'s is the project)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def curl_line(s: ExampleSettings) -> str:
    """curl resolves ``*.localhost`` to loopback itself; any other domain needs the Host."""
    if s.domain == "localhost" or s.domain.endswith(".localhost"):
        return f"curl {s.url}"
    return f"curl -H 'Host: {s.host}' {s.router}/"


async def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=repo,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ExampleFailed(f"git {' '.join(args)} in {repo}: {text.strip()}")
    return text


async def make_repository(s: ExampleSettings) -> None:
    """The example's files in a new repository with one reproducible commit."""
    if not s.source.is_dir():
        raise ExampleFailed(f"{s.source} is not a directory")
    shutil.rmtree(s.repo, ignore_errors=True)  # a copy that never got its commit
    shutil.copytree(s.source, s.repo, ignore=shutil.ignore_patterns(".git"))
    await git(s.repo, "init", "-q", "-b", BRANCH)
    await git(s.repo, "add", "-A")
    commit = ("-c", "commit.gpgsign=false", "commit", "-q", "-m", f"The {s.app} example")
    await git(s.repo, *commit, env=COMMIT_ENV)


async def set_remote(s: ExampleSettings) -> None:
    """The ``paas`` remote at this run's git URL, with the kubeconfig's credential helper."""
    remote = f"{s.git_base.rstrip('/')}/{s.app}.git"
    if "paas" in (await git(s.repo, "remote")).split():
        await git(s.repo, "remote", "set-url", "paas", remote)
    else:
        await git(s.repo, "remote", "add", "paas", remote)
    helper = [sys.executable, "-m", "paas.cli.gitcredential", "--kubeconfig", str(s.kubeconfig)]
    prefix = s.git_base.rstrip("/") + "/"
    await git(s.repo, "config", f"credential.{prefix}.helper", "!" + shlex.join(helper))
    await git(s.repo, "config", f"credential.{prefix}.useHttpPath", "false")


def shown(line: str) -> str:
    """The part of a push's line worth showing in ``paas up``'s output ("" for the rest)."""
    if line.startswith("remote: -----> "):  # a step; indented lines are the build's detail
        return line.removeprefix("remote: -----> ")
    if line.startswith(("Everything up-to-date", "error:", " ! ")):
        return line.strip()
    return ""


async def push(s: ExampleSettings, say: Callable[[str], None]) -> None:
    """``git push paas main``, its steps said as they come; ExampleFailed with its end if not."""
    s.log.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        "git",
        "push",
        "paas",
        BRANCH,
        cwd=s.repo,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    tail: list[str] = []
    try:
        with s.log.open("w") as log:
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                log.write(line + "\n")
                log.flush()
                tail = [*tail[-9:], line]
                if text := shown(line):
                    say(f"  {s.app}: {text}")
        code = await proc.wait()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if code != 0:
        last = "\n".join(f"    {line}" for line in tail)
        raise ExampleFailed(f"git push exited {code}; its last lines:\n{last}\n  see {s.log}")


async def until_live(s: ExampleSettings) -> None:
    """Until the URL answers 200 through the router (the pods may be coming back)."""
    deadline = time.monotonic() + s.live_timeout
    last = ""
    async with httpx.AsyncClient(base_url=s.router, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get("/", headers={"Host": s.host})
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.1)
    raise ExampleFailed(f"{s.url} did not answer 200 in {s.live_timeout:.0f}s (last: {last})")
