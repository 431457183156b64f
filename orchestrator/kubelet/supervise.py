"""The per-container supervisor of the process runtime (our conmon).

``python -S -m orchestrator.kubelet.supervise run <container dir>`` starts one
container; ``... exec <container dir> -- ARGV`` runs a command inside a running
one. The node agent starts ``run`` in a session of its own, so the container
outlives the agent, even an agent killed with SIGKILL: the supervisor is what
keeps the container's output and exit status while no agent is there.

``run`` reads ``spec.json`` (written by ``runtimes/processlaunch.py``) and then:

1. forks the container's first process. As root it first joins the
   container's cgroups (so the limits hold from the first instruction), the
   pod's network namespace, a mount namespace of its own (the pod's
   resolv.conf, hosts file and volumes bound at their container paths) and a
   UTS namespace (the pod's hostname). With ``pid_namespace`` the fork is pid 1
   of a new PID namespace and stays as a tiny init: it forks the app as pid 2,
   forwards termination signals to it, reaps orphans and exits with the app's
   status (an app that is pid 1 would ignore SIGTERM without a handler).
   Without a PID namespace the app is its own process group.
2. learns from a close-on-exec pipe whether ``exec`` worked, writes
   ``pid.json`` (the signal target, its process group, and /proc start times to
   guard against PID reuse) and tells the agent "ok" or the error on fd 3.
3. pumps stdout and stderr into ``container.log`` in CRI's format, rotating
   it by size (``container.log.1`` is the newest rotated file).
   A container with ``stdin: true`` reads the FIFO ``stdin`` in its dir,
   which the supervisor holds open (read and write, so it never sees EOF)
   for ``kubectl attach -i`` to write into later. With ``tty: true`` the
   app's stdio is a pseudo-terminal whose master the supervisor keeps: its
   output goes to the log as stdout (a line's start is written at once, as
   a partial entry, so an attached user sees a prompt), the FIFO's bytes go
   into it, and its slave's name is in ``pid.json`` for resizes.
4. when the first process ends, kills what is left of the container (its
   process group and every process in its cgroup), drains the pipes, reads
   the cgroup's OOM-kill count, writes ``exit.json`` atomically (tmp + rename)
   and removes the container's cgroups.

Standard library and ``logformat`` only: this runs once per container start
and per exec probe, so it must start fast. Namespace calls go through ctypes
because Python 3.11 has no ``os.setns``/``os.unshare``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import sys
import time
from typing import Any

from orchestrator.kubelet.logformat import format_entry, split_output

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

PR_SET_PDEATHSIG = 1
READY_FD = 3
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)
DRAIN_SECONDS = 2.0  # how long output still held by killed stragglers is awaited


def proc_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    rest = data[data.rfind(b")") + 2 :].split()
    return int(rest[19]) if len(rest) > 19 else None


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc().setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


def mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    libc = _libc()
    enc = [None if s is None else s.encode() for s in (source, target, fstype)]
    _check(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None), f"mount {target}")


def join_cgroups(procs_files: list[str]) -> None:
    """Move the calling process into each cgroup ("0" means the writer itself)."""
    for path in procs_files:
        with open(path, "w") as f:
            f.write("0")


def _mountpoint(source: str, target: str) -> None:
    """Make sure ``target`` exists with the kind of ``source`` (file or directory)."""
    if os.path.lexists(target):
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        with open(target, "a"):
            pass


def enter_pod(spec: dict[str, Any], *, new_proc: bool) -> None:
    """Join cgroups and namespaces of the container (in the forked child, before exec)."""
    join_cgroups(spec.get("cgroup_procs", []))
    if spec.get("netns"):
        setns(spec["netns"], CLONE_NEWNET)
    if spec.get("hostname") and spec.get("uts_namespace"):
        unshare(CLONE_NEWUTS)
        import socket

        socket.sethostname(spec["hostname"])
    if spec.get("mount_namespace"):
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        if new_proc:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for source, target, read_only in spec.get("binds", []):
            _mountpoint(source, target)
            mount(source, target, None, MS_BIND | MS_REC)
            if read_only:
                mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _default_signals() -> None:
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _exec_app(spec: dict[str, Any], out_w: int, err_w: int, errpipe: int) -> None:
    """Become the container's app: stdio to the pipes, env, working dir, exec. Never returns.

    ``out_w`` is the terminal's slave for a tty container; stdin is the FIFO
    the supervisor opened (a container with ``stdin: true``) or /dev/null.
    """
    argv = spec["argv"]
    try:
        if spec.get("tty"):
            import fcntl
            import termios

            for fd in (0, 1, 2):
                os.dup2(out_w, fd)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # we lead a session of our own (setsid)
        else:
            stdin = spec.get("_stdin_fd")
            os.dup2(stdin if stdin is not None else os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
        _default_signals()
        try:
            os.chdir(spec["cwd"])
        except OSError as exc:
            raise RuntimeError(f'chdir to working dir "{spec["cwd"]}": {exc.strerror}') from exc
        env = dict(spec["env"])
        try:
            os.execvpe(argv[0], argv, env)
        except FileNotFoundError as exc:
            if "/" in argv[0]:
                raise RuntimeError(f'exec: "{argv[0]}": no such file or directory') from exc
            raise RuntimeError(f'exec: "{argv[0]}": executable file not found in $PATH') from exc
        except OSError as exc:
            raise RuntimeError(f'exec: "{argv[0]}": {exc.strerror}') from exc
    except BaseException as exc:  # report anything, then die: we are a forked child
        with contextlib.suppress(OSError):
            os.write(errpipe, str(exc).encode()[:4000] or b"failed")
        os._exit(127)


def _run_init(spec: dict[str, Any], out_w: int, err_w: int, errpipe: int) -> None:
    """Pid 1 of the container's PID namespace: fork the app, forward signals, reap, exit."""
    app = os.fork()
    if app == 0:
        os.setsid()
        _exec_app(spec, out_w, err_w, errpipe)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(app, signum)

    # before the agent can learn that the app runs (errpipe EOF): pid 1 drops unhandled signals
    for sig in FORWARDED:
        signal.signal(sig, forward)
    os.close(errpipe)
    os.close(out_w)
    os.close(err_w)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == app:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.WEXITSTATUS(status))


def _start_child(spec: dict[str, Any], out_w: int, err_w: int, errpipe: int) -> None:
    """In the forked child: enter the pod, then exec (or run init). Never returns."""
    try:
        if not spec.get("pid_namespace"):
            if spec.get("tty"):
                os.setsid()  # a terminal's session: the app's group is still its pid
            else:
                os.setpgid(0, 0)
        enter_pod(spec, new_proc=bool(spec.get("pid_namespace")))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(errpipe, f"entering the pod: {exc}".encode()[:4000])
        os._exit(126)
    if spec.get("pid_namespace"):
        _run_init(spec, out_w, err_w, errpipe)
    _exec_app(spec, out_w, err_w, errpipe)


class LogWriter:
    """CRI log file with size-based rotation: container.log, .1 (newest rotated), .2, ..."""

    def __init__(self, path: str, max_bytes: int, max_files: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_files = max(1, max_files)
        self.file = open(path, "ab", buffering=0)
        self.size = self.file.tell()
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        entries, self.pending[stream] = split_output(stream, data, self.pending[stream])
        for entry in entries:
            self._append(entry)

    def flush_pending(self, partial: bool = False) -> None:
        """Write what waits for its newline; ``partial`` marks it continued by the next entry."""
        for stream, rest in self.pending.items():
            if rest:
                self._append(format_entry(stream, rest, partial=partial))
        self.pending = {"stdout": b"", "stderr": b""}

    def _append(self, entry: bytes) -> None:
        if self.size and self.size + len(entry) > self.max_bytes:
            self._rotate()
        self.file.write(entry)
        self.size += len(entry)

    def _rotate(self) -> None:
        self.file.close()
        keep = self.max_files - 1  # rotated files kept beside the current one
        for n in range(keep, 0, -1):
            older = f"{self.path}.{n}"
            if n == keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(older)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.rename(older, f"{self.path}.{n + 1}")
        if keep:
            os.rename(self.path, f"{self.path}.1")
        else:
            os.unlink(self.path)
        self.file = open(self.path, "ab", buffering=0)
        self.size = 0


def write_json_atomic(path: str, data: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def oom_kills(oom_files: list[list[str]]) -> int:
    """Sum of the "<key> <count>" lines named by the runtime (v1 oom_control, v2 memory.events)."""
    total = 0
    for path, key in oom_files:
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        total += int(value)
        except (OSError, ValueError):
            continue
    return total


def kill_leftovers(spec: dict[str, Any], pgid: int | None) -> None:
    """SIGKILL what the first process left behind: its process group and its cgroups."""
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for path in spec.get("cgroup_procs", []):
        try:
            with open(path) as f:
                pids = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def remove_cgroups(dirs: list[str]) -> None:
    deadline = time.monotonic() + 2.0
    for path in dirs:
        while True:
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)


def _tell_agent(message: bytes) -> None:
    with contextlib.suppress(OSError):
        os.write(READY_FD, message)
        os.close(READY_FD)


def run(container_dir: str) -> int:
    with open(os.path.join(container_dir, "spec.json")) as f:
        spec = json.load(f)
    for ignored in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
        signal.signal(ignored, signal.SIG_IGN)
    if spec.get("tty"):
        out_r, out_w = os.openpty()  # master, slave: one terminal for stdin, stdout and stderr
        err_r, err_w = os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY)
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
    stdin_fd = None
    if spec.get("stdin"):
        fifo = os.path.join(container_dir, "stdin")
        if not os.path.exists(fifo):
            os.mkfifo(fifo, 0o600)
        stdin_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a reader and a writer: no EOF
        if not spec.get("tty"):
            os.set_blocking(stdin_fd, True)
            spec["_stdin_fd"] = stdin_fd
    tty_name = os.ttyname(out_w) if spec.get("tty") else None
    err_pipe_r, err_pipe_w = os.pipe()  # close-on-exec: EOF without data means exec worked
    if spec.get("pid_namespace"):
        unshare(CLONE_NEWPID)  # our next child is pid 1 of a new namespace
    child = os.fork()
    if child == 0:
        os.close(out_r)
        os.close(err_r)
        os.close(err_pipe_r)
        with contextlib.suppress(OSError):
            os.close(READY_FD)  # the agent waits for its EOF: the container must not hold it
        _start_child(spec, out_w, err_w, err_pipe_w)
    os.close(out_w)
    os.close(err_w)
    os.close(err_pipe_w)
    failure = b""
    while chunk := os.read(err_pipe_r, 4096):
        failure += chunk
    os.close(err_pipe_r)
    started_ns = time.time_ns()
    pgid = None if spec.get("pid_namespace") else child
    if failure:
        os.waitpid(child, 0)
        kill_leftovers(spec, pgid)
        remove_cgroups(spec.get("cgroup_dirs", []))
        _tell_agent(b"error " + failure)
        return 1
    write_json_atomic(
        os.path.join(container_dir, "pid.json"),
        {
            "pid": child,
            "pid_start": proc_start_ticks(child),
            "pgid": pgid,
            "supervisor": os.getpid(),
            "supervisor_start": proc_start_ticks(os.getpid()),
            "started_ns": started_ns,
            "tty": tty_name,
        },
    )
    _tell_agent(b"ok")

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    pipes = {out_r: "stdout"} if spec.get("tty") else {out_r: "stdout", err_r: "stderr"}
    if spec.get("tty"):
        os.close(err_r)
    feed = (stdin_fd, out_r) if spec.get("tty") and stdin_fd is not None else None
    status, finished_ns = pump(spec, child, pgid, pipes, feed)
    if os.WIFSIGNALED(status):
        sig: int | None = os.WTERMSIG(status)
        exit_code = 128 + os.WTERMSIG(status)
    else:
        sig = None
        exit_code = os.WEXITSTATUS(status)
    oom = oom_kills(spec.get("oom_files", [])) > 0
    write_json_atomic(
        os.path.join(container_dir, "exit.json"),
        {"exit_code": exit_code, "signal": sig, "finished_ns": finished_ns, "oom_killed": oom},
    )
    remove_cgroups(spec.get("cgroup_dirs", []))
    return 0


def pump(
    spec: dict[str, Any],
    child: int,
    pgid: int | None,
    pipes: dict[int, str],
    feed: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Copy output into the log until the first process ends; its wait status and end time.

    ``feed`` is (the stdin FIFO, the terminal's master) of a tty container: input to pass on.
    """
    log = LogWriter(spec["log_path"], spec["log_max_bytes"], spec["log_max_files"])
    tty = bool(spec.get("tty"))
    sel = selectors.DefaultSelector()
    for fd in pipes:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    if feed is not None:
        sel.register(feed[0], selectors.EVENT_READ)
    pidfd: int | None = None
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(child)
        sel.register(pidfd, selectors.EVENT_READ)
    status: int | None = None
    finished_ns = 0
    drain_deadline: float | None = None
    while pipes:
        timeout = 0.5 if pidfd is None else None
        if drain_deadline is not None:
            timeout = max(0.0, drain_deadline - time.monotonic())
        events = sel.select(timeout)
        for key, _ in events:
            fd = int(key.fd)
            if fd == pidfd:
                continue
            if feed is not None and fd == feed[0]:
                _pass_input(*feed)
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:  # EIO: a terminal whose every slave has closed
                data = b""
            if data:
                log.write(pipes[fd], data)
                if tty:
                    log.flush_pending(partial=True)
            else:
                sel.unregister(fd)
                os.close(fd)
                del pipes[fd]
        if status is None:
            done, st = os.waitpid(child, os.WNOHANG)
            if done:
                status, finished_ns = st, time.time_ns()
                if pidfd is not None:
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = None
                # the container ends with its first process: nothing of it may linger
                kill_leftovers(spec, pgid)
                drain_deadline = time.monotonic() + DRAIN_SECONDS
        elif drain_deadline is not None and time.monotonic() >= drain_deadline:
            break
    if status is None:
        _, status = os.waitpid(child, 0)
        finished_ns = time.time_ns()
    log.flush_pending()
    return status, finished_ns


def _pass_input(source: int, terminal: int) -> None:
    """What ``kubectl attach -i`` wrote to the FIFO, into the terminal (dropped when full)."""
    try:
        data = os.read(source, 65536)
        if data:
            os.write(terminal, data)
    except OSError:  # nothing there after all, or a terminal that is full or gone
        pass


def exec_in(container_dir: str, argv: list[str], tty: bool = False) -> int:
    """Run ``argv`` in the container's cgroups, namespaces, env and working dir.

    With ``tty`` our stdin is a terminal that becomes the controlling one of
    the session that runs ``argv``: ours (the node agent started us with
    ``setsid``), or, when a PID namespace was entered, a session of the
    forked command's own, so that a shell's job control finds its process
    groups inside the namespace. That child dies with us (PDEATHSIG), so
    the agent killing our group ends it too.
    """
    with open(os.path.join(container_dir, "spec.json")) as f:
        spec = json.load(f)
    with open(os.path.join(container_dir, "pid.json")) as f:
        target = json.load(f)["pid"]
    join_cgroups(spec.get("cgroup_procs", []))
    entered_pid = False
    for ns, flag in (("net", CLONE_NEWNET), ("uts", CLONE_NEWUTS), ("pid", CLONE_NEWPID)):
        theirs = f"/proc/{target}/ns/{ns}"
        if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{ns}").st_ino:
            setns(theirs, flag)
            entered_pid = entered_pid or ns == "pid"
    theirs = f"/proc/{target}/ns/mnt"
    if os.stat(theirs).st_ino != os.stat("/proc/self/ns/mnt").st_ino:
        setns(theirs, CLONE_NEWNS)
    os.chdir(spec["cwd"])
    env = dict(spec["env"])
    if tty and not entered_pid:
        _take_terminal()
    if entered_pid:  # a PID namespace applies to children only
        child = os.fork()
        if child == 0:
            _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if tty:
                os.setsid()
                _take_terminal()
            _default_signals()
            _exec_or_die(argv, env)
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_IGN)  # a terminal's ^C is the command's to take
        _, status = os.waitpid(child, 0)
        return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    _exec_or_die(argv, env)
    return 127


def _take_terminal() -> None:
    """Make stdin, a terminal, the controlling one of the session we lead."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _exec_or_die(argv: list[str], env: dict[str, str]) -> None:
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        what = "executable file not found in $PATH" if exc.errno == 2 else exc.strerror
        os.write(2, f'exec: "{argv[0]}": {what}\n'.encode())
        os._exit(127)


def main(args: list[str]) -> int:
    if len(args) >= 2 and args[0] == "run":
        return run(args[1])
    if len(args) >= 4 and args[0] == "exec" and args[2] == "--":
        return exec_in(args[1], args[3:])
    if len(args) >= 5 and args[0] == "exec" and args[2:4] == ["--tty", "--"]:
        return exec_in(args[1], args[4:], tty=True)
    sys.stderr.write("usage: supervise run DIR | supervise exec DIR [--tty] -- ARGV...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
