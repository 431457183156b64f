"""The ``pre-receive`` hook: what runs inside ``git receive-pack`` for every push.

pre-receive is the one hook that can refuse the whole push and whose output
reaches the pusher live (reference/git-push.md, section 3). It is a thin
client of the builder process that started the CGI: for each ref update it

1. skips what is not a branch (tags are stored, not built);
2. checks that the ref is still where the pusher saw it (pre-receive runs
   before receive-pack's own checks and alongside other pushes), else
   refuses with "fetch and push again";
3. exports the pushed tree with ``git archive <sha> | tar -x`` into the
   builder's work dir: the pushed objects exist only in the quarantine
   directory while this hook runs, so the build gets files, not the repo;
4. asks the builder (``POST /internal/builds``, authenticated by a secret
   of the builder's process passed in the CGI's environment) to build it,
   and prints the build's output line by line, flushed, as it arrives;
5. or, for a deleted branch, asks it to remove the branch's objects.

Any failure exits 1, which rejects the push: the refs stay where they were
and nothing that was live changes. The builder, not the hook, records
Builds and decides about cancellation, so one process knows every build.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx

from builder.pktline import ZERO, RefUpdate

HOOKS = ("pre-receive",)
# Environment the builder gives the CGI (and so the hook).
ENV_URL = "PAAS_BUILDER_HOOK_URL"
ENV_SECRET = "PAAS_BUILDER_HOOK_SECRET"
ENV_NAMESPACE = "PAAS_NAMESPACE"
ENV_APP = "PAAS_APP"
ENV_WORK = "PAAS_BUILDER_WORK"


def hook_script(python: str) -> str:
    return f'#!/bin/sh\nexec "{python}" -m builder.hooks "$(basename "$0")"\n'


def install_hooks(repo: Path, python: str) -> None:
    """Write the hooks into a bare repository, executable (git skips them otherwise).

    Every push calls this, and pushes run at once: a hook already as wanted
    is left alone, and a new one is written beside it and renamed over it,
    so a git running the old file never meets a half-written one (or
    ETXTBSY, "Text file busy", when it executes a file open for writing).
    """
    hooks = repo / "hooks"
    hooks.mkdir(exist_ok=True)
    for sample in hooks.glob("*.sample"):
        sample.unlink(missing_ok=True)
    script = hook_script(python)
    for name in HOOKS:
        path = hooks / name
        with contextlib.suppress(OSError):
            if path.read_text() == script and os.access(path, os.X_OK):
                continue
        fresh = hooks / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        fresh.write_text(script)
        fresh.chmod(0o755)
        fresh.replace(path)


def say(text: str) -> None:
    print(text, flush=True)  # stdout is a pipe: unflushed lines would arrive all at the end


def ref_now(ref: str) -> str:
    """Where ``ref`` points now (ZERO when it does not exist)."""
    done = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", ref], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or ZERO


def head_ref() -> str:
    done = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def export_tree(commit: str, into: Path) -> None:
    archive = subprocess.Popen(["git", "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    assert archive.stdout is not None
    try:
        tar = subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=False)
    finally:
        archive.stdout.close()
    if archive.wait() != 0 or tar.returncode != 0:
        raise RuntimeError(f"could not export commit {commit[:7]} (git archive | tar -x failed)")


def call_builder(path: str, payload: dict[str, str]) -> bool:
    """POST to the builder, print its streamed lines; True when it said the work succeeded."""
    url = os.environ[ENV_URL] + path
    headers = {"Authorization": f"Bearer {os.environ[ENV_SECRET]}"}
    ok = False
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as client,
            client.stream("POST", url, json=payload, headers=headers) as response,
        ):
            if response.status_code != 200:
                say(f" !     the builder refused: {response.read().decode(errors='replace')}")
                return False
            for line in response.iter_lines():
                if not line:
                    continue
                event = json.loads(line)
                if "line" in event:
                    say(event["line"])
                if "ok" in event:
                    ok = bool(event["ok"])
    except httpx.HTTPError as exc:
        say(f" !     lost the builder ({exc}); nothing was deployed")
        return False
    return ok


def handle(update: RefUpdate, user: str) -> bool:
    branch = update.branch
    if not branch:
        return True
    namespace, app = os.environ[ENV_NAMESPACE], os.environ[ENV_APP]
    now = ref_now(update.ref)
    if now != update.old:
        say(f" !     {branch} moved to {now[:7]} while you were pushing; fetch and push again")
        return False
    base = {"namespace": namespace, "app": app, "branch": branch, "user": user}
    if update.deletes and update.ref == head_ref():
        say(f" !     {branch} is the app's main branch; delete the app instead (paas apps delete)")
        return False
    if update.deletes:
        return call_builder("/internal/branches/delete", base)
    work = Path(os.environ[ENV_WORK])
    work.mkdir(parents=True, exist_ok=True)
    source = Path(tempfile.mkdtemp(prefix=f"{app}-", dir=work))
    try:
        export_tree(update.new, source)
        return call_builder(
            "/internal/builds", {**base, "commit": update.new, "source": str(source)}
        )
    finally:
        shutil.rmtree(source, ignore_errors=True)


def pre_receive() -> int:
    user = os.environ.get("REMOTE_USER", "")
    updates = []
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    ok = True
    for update in updates:
        try:
            ok = handle(update, user) and ok
        except Exception as exc:  # the pusher sees why, not a traceback
            say(f" !     {update.ref}: {exc}")
            ok = False
        if not ok:
            break  # the whole push is refused: building the other refs would be wasted
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    hook = argv[1] if len(argv) > 1 else ""
    if hook == "pre-receive":
        with contextlib.suppress(BrokenPipeError):
            return pre_receive()
        return 1
    print(f"builder.hooks: unknown hook {hook!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
