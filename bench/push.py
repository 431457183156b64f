"""From ``git push`` to the first 200 at the branch's URL, beside the same steps done by hand.

Run with ``make bench BENCHES=push`` (or ``python -m bench.push [--quick]
[--runtimes process docker]``). For each runtime it starts ``paas up`` in a
fresh data dir (so the builder's dependency cache is empty) on free ports,
copies ``examples/python-flask`` into a temporary repository, adds the
remote as a user does (``paas git-remote``: the token reaches git through
the credential helper) and times, with the real ``git`` client:

- cold: the first push, from ``git push`` starting to the first 200 from
  ``http://python-flask.localhost:PORT/`` through the router;
- warm: ``--rounds`` code-only changes pushed one after another, each until
  its own new text answers (the median is the figure).

Each push's ``remote:`` lines are timestamped as they arrive, so the report
splits the time into receiving the push, building, the release phase, the
rollout and the rest (git's own start, the credential helper, the first
request through the router).

The anchor is the same app brought up by hand in the same run, on this
machine: ``python3 -m venv`` fresh, ``pip install -r requirements.txt``,
the Procfile's ``web:`` command, polled until its first 200 (median of
``--rounds``); the restart alone (venv kept, the by-hand equivalent of a
code change) is printed beside it. Targets (issue 13): warm push-to-URL
<= 3 s on the process runtime, <= 8 s on Docker.

The Docker runtime needs root and an engine (``make bench`` starts one
through ``.ci/with-engines``); ``paas up`` builds the stack image first when
it is missing, before the clock starts. A runtime that cannot run says why
and gives no figures; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import Figure, save_if_asked

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "python-flask"
APP = "python-flask"
TARGETS = {"process": 3.0, "docker": 8.0}  # warm push -> first 200, seconds (issue 13)
UP_TIMEOUT = 600.0  # the Docker runtime's first `paas up` builds the stack image
PUSH_TIMEOUT = 600.0  # a cold build installs the dependencies
FIRST_200_TIMEOUT = 60.0
POLL = 0.01  # between requests while waiting for the first 200
ANCHOR_NAME = "by hand: python3 -m venv, pip install -r requirements.txt, web:, first 200"
# (marker in a `remote:` line, the phase that ends there); the order a push prints them
PHASES = (
    ("-----> Building ", "receive the push"),
    ("-----> Built ", "build"),
    ("-----> Deploying: rolling out", "release phase"),
    ("-----> Deployed:", "rollout"),
)


@dataclass
class Push:
    """One timed push: seconds from its start to each phase's end and to the first 200."""

    seconds: float = float("nan")
    marks: dict[str, float] = field(default_factory=dict)
    output: str = ""
    before: dict[str, int] = field(default_factory=dict)  # answers once the push ended, until then

    def split(self) -> str:
        """'receive the push 0.4s, build 1.1s, ...': each phase's own duration."""
        parts, last = [], 0.0
        for _, phase in PHASES:
            if phase in self.marks:
                parts.append(f"{phase} {self.marks[phase] - last:.2f}s")
                last = self.marks[phase]
        if "push ends" in self.marks:
            parts.append(f"push ends {self.marks['push ends'] - last:.2f}s")
            last = self.marks["push ends"]
        parts.append(f"first 200 {self.seconds - last:.2f}s")
        if self.before:
            parts.append("before it: " + ", ".join(f"{n} x {a}" for a, n in self.before.items()))
        return ", ".join(parts)


def get(router: str, host: str, path: str = "/") -> tuple[int, str]:
    """GET through the router with a Host header, as curl does for ``<app>.localhost``."""
    conn = http.client.HTTPConnection(router.removeprefix("http://"), timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


def first_200(
    router: str, host: str, text: str, started: float, before: dict[str, int] | None = None
) -> float:
    """Seconds from ``started`` until ``host`` answers 200 with ``text`` in its body; the
    other answers until then are counted in ``before`` ("200 old", "404", "0 refused"...)."""
    deadline = time.monotonic() + FIRST_200_TIMEOUT
    while True:
        status, body = get(router, host)
        if status == 200 and text in body:
            return time.monotonic() - started
        if before is not None:
            answer = "200 old" if status == 200 else f"{status} {body.strip()[:40]}"
            before[answer] = before.get(answer, 0) + 1
        if time.monotonic() > deadline:
            raise RuntimeError(f"{host} did not answer 200 with {text!r}: {status} {body[:200]}")
        time.sleep(POLL)


class Repo:
    """The example in a temporary repository of a user with a clean home."""

    def __init__(self, home: Path, data_dir: Path) -> None:
        self.tree = home / APP
        shutil.copytree(EXAMPLE, self.tree)
        self.env = {
            "HOME": str(home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            **{
                f"GIT_{who}_{what}": value
                for who in ("AUTHOR", "COMMITTER")
                for what, value in (("NAME", "bench"), ("EMAIL", "bench@example.test"))
            },
        }
        self.git("init", "-q", "-b", "main")
        self.commit("the example")
        paas = [sys.executable, "-m", "paas", "git-remote", APP, "--data-dir", str(data_dir)]
        self.run([*paas, "--kubeconfig", str(data_dir / "kubeconfig")])

    def run(self, argv: list[str]) -> str:
        done = subprocess.run(
            argv, cwd=self.tree, env=self.env, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])}: {done.stdout}{done.stderr}")
        return done.stdout

    def git(self, *args: str) -> str:
        return self.run(["git", *args])

    def commit(self, message: str, greeting: str = "") -> None:
        """Commit the tree; with ``greeting``, app.py says it instead (a code-only change)."""
        if greeting:
            original = (EXAMPLE / "app.py").read_text()
            (self.tree / "app.py").write_text(original.replace("Hello from Python", greeting))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def push(self, router: str, host: str, text: str, refspec: str = "main") -> Push:
        """``git push paas REFSPEC`` timed to the first 200 that shows ``text``."""
        push = Push()
        started = time.monotonic()
        proc = subprocess.Popen(
            ["git", "push", "paas", refspec],
            cwd=self.tree,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        lines = []
        for raw in proc.stderr:  # the remote's lines, as git relays them
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            for marker, phase in PHASES:
                if marker in line:
                    push.marks.setdefault(phase, time.monotonic() - started)
        code = proc.wait(PUSH_TIMEOUT)
        push.marks["push ends"] = time.monotonic() - started
        push.output = "\n".join(lines)
        if code != 0:
            raise RuntimeError(f"git push exited {code}:\n{push.output}")
        push.seconds = first_200(router, host, text, started, push.before)
        return push


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ByHand:
    full: float  # fresh venv, pip install, start, first 200
    restart: float  # the same venv, start, first 200


def by_hand(work: Path) -> ByHand:
    """The example brought up by hand: a fresh venv, pip install, the web: command, a 200."""
    tree = work / f"hand-{uuid.uuid4().hex[:6]}"
    shutil.copytree(EXAMPLE, tree)
    python = shutil.which("python3") or sys.executable
    web = next(
        line.split(":", 1)[1].strip()
        for line in (tree / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    started = time.monotonic()
    subprocess.run([python, "-m", "venv", "venv"], cwd=tree, check=True)
    pip = [str(tree / "venv/bin/pip"), "install", "-q", "-r", "requirements.txt"]
    installed = subprocess.run(pip, cwd=tree, capture_output=True, text=True, check=False)
    if installed.returncode != 0:  # pip's warnings otherwise: not part of the figures
        raise RuntimeError(f"pip install by hand failed:\n{installed.stdout}{installed.stderr}")
    full = serve_once(tree, web, started)
    restart = serve_once(tree, web, time.monotonic())
    shutil.rmtree(tree, ignore_errors=True)
    return ByHand(full, restart)


def serve_once(tree: Path, web: str, started: float) -> float:
    """Start ``web`` in the venv, wait for its first 200, stop it; seconds since ``started``."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    env["PATH"] = f"{tree / 'venv/bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    proc = subprocess.Popen(
        ["sh", "-c", web],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return first_200(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", "Hello", started)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


@contextlib.contextmanager
def paas_up(data_dir: Path, runtime: str, *extra: str) -> Iterator[dict[str, str]]:
    """``paas up`` on free ports in ``data_dir``; its endpoints.json once it says it is up."""
    log_path = data_dir / "up.log"
    argv = [sys.executable, "-m", "paas", "up", "--data-dir", str(data_dir), "--runtime", runtime]
    argv += ["--api-port", "0", "--dns-port", "0", "--http-port", "0", "--registry-port", "0"]
    argv += extra
    argv += ["--node-name", f"bench-push-{uuid.uuid4().hex[:6]}"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + UP_TIMEOUT
        while "Press Ctrl-C" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"paas up did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield json.loads((data_dir / "endpoints.json").read_text())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def cannot_run(runtime: str) -> str:
    """Why ``runtime`` cannot run here ("" when it can)."""
    if runtime != "docker":
        return ""
    if os.geteuid() != 0:
        return "the Docker runtime needs root (its pods join the node's own bridge)"
    from orchestrator.kubelet.runtimes.docker import engine_answers

    if not engine_answers("unix:///var/run/docker.sock", timeout=5):
        return (
            "no Docker engine answers at unix:///var/run/docker.sock (.ci/with-engines starts one)"
        )
    return ""


@dataclass
class RuntimeResult:
    cold: Push
    warm: list[Push]

    @property
    def warm_median(self) -> float:
        return statistics.median(p.seconds for p in self.warm)


def bench_runtime(runtime: str, rounds: int, work: Path) -> RuntimeResult:
    data_dir = work / f"paas-{runtime}"
    data_dir.mkdir()
    with paas_up(data_dir, runtime) as endpoints:
        router = endpoints["http"]
        host = f"{APP}.localhost"
        repo = Repo(work / f"home-{runtime}", data_dir)
        cold = repo.push(router, host, "Hello from Python")
        print(f"  {runtime}: cold {cold.seconds:.2f}s ({cold.split()})", flush=True)
        warm = []
        for n in range(1, rounds + 1):
            greeting = f"Hello (round {n}) from Python"
            repo.commit(f"round {n}", greeting)
            warm.append(repo.push(router, host, greeting))
            print(f"  {runtime}: warm {warm[-1].seconds:.2f}s ({warm[-1].split()})", flush=True)
        if "Reusing dependencies" not in warm[-1].output:
            print(f"  {runtime}: the warm push did not reuse the dependency cache", flush=True)
    return RuntimeResult(cold, warm)


def report(results: dict[str, RuntimeResult], hand: list[ByHand], rounds: int) -> str:
    full = statistics.median(h.full for h in hand)
    restart = statistics.median(h.restart for h in hand)
    lines = [
        f"push to first 200, {APP} (median of {rounds} warm pushes; by hand median of {len(hand)})",
        f"  {'':<42}{'seconds':>8}{'x by hand':>11}{'target':>9}",
    ]
    for runtime, result in results.items():
        target = TARGETS[runtime]
        for name, value, bound in (
            ("cold (empty dependency cache)", result.cold.seconds, None),
            ("warm (code-only change)", result.warm_median, target),
        ):
            aim = f"<= {bound:.0f} s" if bound else ""
            label = f"{runtime}: {name}"
            lines.append(f"  {label:<42}{value:8.2f}{value / full:10.2f}x{aim:>9}")
    lines.append(f"  {ANCHOR_NAME}: {full:.2f}s")
    lines.append(f"  by hand, a code change (restart web:, venv kept): {restart:.2f}s")
    return "\n".join(lines)


def figures(results: dict[str, RuntimeResult], hand: list[ByHand], rounds: int) -> list[Figure]:
    full = statistics.median(h.full for h in hand)
    out = []
    for runtime, result in results.items():
        for name, value, target in (
            ("cold push -> first 200", result.cold.seconds, None),
            (f"warm push -> first 200, median of {rounds}", result.warm_median, TARGETS[runtime]),
        ):
            out.append(
                Figure(
                    "push",
                    f"{runtime}: {name}",
                    value,
                    "s",
                    anchor=full,
                    anchor_name=ANCHOR_NAME,
                    target=target,
                )
            )
    restart = statistics.median(h.restart for h in hand)
    out.append(Figure("push", "by hand: restart web: (venv kept) -> first 200", restart, "s"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.push", description=__doc__.splitlines()[0])
    p.add_argument("--runtimes", nargs="+", choices=tuple(TARGETS), default=list(TARGETS))
    p.add_argument("--rounds", type=int, default=3, help="warm pushes, and anchor runs")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep the data dirs and repositories")
    p.add_argument("--quick", action="store_true", help="1 warm push, 1 anchor run")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds = 1
    work = Path(tempfile.mkdtemp(prefix="paas-bench-push-"))
    failed: dict[str, str] = {}
    results: dict[str, RuntimeResult] = {}
    try:
        hand = []
        for _ in range(args.rounds):
            hand.append(by_hand(work))
            print(f"  by hand: {hand[-1].full:.2f}s (restart {hand[-1].restart:.2f}s)", flush=True)
        for runtime in args.runtimes:
            why = cannot_run(runtime)
            if why:
                failed[runtime] = why
                print(f"  {runtime}: cannot run: {why}", flush=True)
                continue
            try:
                results[runtime] = bench_runtime(runtime, args.rounds, work)
            except RuntimeError as exc:
                failed[runtime] = str(exc)
                print(f"  {runtime}: failed: {exc}", flush=True)
                args.keep = True  # the logs say why
    finally:
        if args.keep:
            print(f"  data dirs and repositories kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(report(results, hand, args.rounds))
    for runtime, why in failed.items():
        print(f"  {runtime}: no figures: {why.splitlines()[0]}")
    save_if_asked(args.results, figures(results, hand, args.rounds))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
