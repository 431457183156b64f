"""The little of git's pkt-line format the server reads and writes itself.

A receive-pack request starts with its commands, one pkt-line each
(``<old> SP <new> SP <ref>``, the first followed by NUL and capabilities),
ended by a flush packet ``0000``; the pack follows. The server reads the
commands from the spooled body before the CGI runs, to know which branches
a push touches (to cancel their older builds and serialise on them). A
probe (``0000`` alone) has none.

``sideband`` frames a progress message on band 2, which git prints as a
``remote:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

ZERO = "0" * 40
MAX_COMMANDS = 10_000  # far more refs than one push updates; stops a hostile body early


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deletes(self) -> bool:
        return self.new == ZERO

    @property
    def branch(self) -> str:
        """The branch name, or "" when the ref is not a branch (a tag)."""
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""


class PktError(ValueError):
    pass


def read_commands(body: IO[bytes]) -> list[RefUpdate]:
    """The ref updates a receive-pack request body starts with."""
    updates: list[RefUpdate] = []
    while len(updates) < MAX_COMMANDS:
        size_hex = body.read(4)
        if len(size_hex) < 4:
            return updates  # an empty or cut body: http-backend reports it
        try:
            size = int(size_hex, 16)
        except ValueError as exc:
            raise PktError(f"bad pkt-line length {size_hex!r}") from exc
        if size == 0:
            return updates
        if size < 4:
            raise PktError(f"bad pkt-line length {size}")
        line = body.read(size - 4).split(b"\0", 1)[0].rstrip(b"\n").decode("utf-8", "replace")
        if line.startswith("shallow "):
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3:
            raise PktError(f"bad receive-pack command {line!r}")
        updates.append(RefUpdate(*parts))
    raise PktError("too many ref updates in one push")


def sideband(text: str, band: int = 2) -> bytes:
    """One pkt-line on ``band`` (2: progress, shown as ``remote:``)."""
    payload = bytes([band]) + text.encode()
    return f"{len(payload) + 4:04x}".encode() + payload
