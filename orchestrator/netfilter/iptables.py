"""iptables commands: one runner, an atomic restore, and fixed jumps in built-in chains.

Rules of ours live in chains of our own, rewritten whole through
``iptables-restore --noflush`` (one transaction: an update never leaves a
gap, and chains the text does not name are left alone, Docker's included).
The only rules placed in the kernel's built-in chains are jumps into ours,
each one exact rule (``Jump``): inserted at the head once (``-C`` first),
and removed by deleting that exact rule until none is left, so that other
users of the tables are never touched. Removal on a machine without
iptables does nothing: no rule of ours can be there to remove.

Every failure is a ``KernelError`` naming the command and what it printed;
callers wrap it once in their own error where it crosses to their users.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass


class KernelError(Exception):
    """An iptables/ip command failed."""


@dataclass(frozen=True)
class Jump:
    """A fixed rule in a built-in chain, added with ``-C``/``-I`` outside the restore."""

    table: str
    chain: str
    args: tuple[str, ...]


def have_iptables() -> bool:
    """Whether iptables is installed: without it no rule of ours can exist to remove."""
    return all(shutil.which(tool) for tool in ("iptables", "iptables-save", "iptables-restore"))


def run(
    argv: list[str],
    *,
    stdin: str = "",
    check: bool = True,
    error: type[Exception] = KernelError,
) -> subprocess.CompletedProcess[str]:
    """Run an ip/iptables command; ``error`` (the caller's class) names it and what it printed."""
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"{' '.join(argv)}: {exc}") from exc
    if check and done.returncode != 0:
        what = " ".join(argv) + (f" <<< {'; '.join(stdin.splitlines())}" if stdin else "")
        raise error(f"{what}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def restore(text: str) -> None:
    """Apply restore text atomically, leaving every chain not named in it alone."""
    run(["iptables-restore", "-w", "--noflush"], stdin=text)


def ensure_jumps(jumps: Iterable[Jump]) -> None:
    """Insert each fixed jump at the head of its built-in chain unless it is there."""
    for jump in jumps:
        base = ["iptables", "-w", "-t", jump.table]
        if run([*base, "-C", jump.chain, *jump.args], check=False).returncode != 0:
            run([*base, "-I", jump.chain, "1", *jump.args])


def remove_jumps(jumps: Iterable[Jump]) -> None:
    """Delete each fixed jump, every copy of it; nothing if it is not there."""
    if not have_iptables():
        return
    for jump in jumps:
        base = ["iptables", "-w", "-t", jump.table]
        while run([*base, "-D", jump.chain, *jump.args], check=False).returncode == 0:
            pass
