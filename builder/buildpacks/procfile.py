"""Procfile: ``<type>: <command>`` lines in a file named ``Procfile`` at the app's root.

The grammar is Dokku's strict one (procfile-util), because a file that half
parses deploys half an app: a type is ``[A-Za-z0-9_-]+`` of at most 63
characters, ``#`` starts a comment line, blank lines are allowed, a
duplicate type or any other line is an error naming its line number.
``web`` is the process that gets HTTP traffic; ``release`` runs once per
deploy before the new version takes traffic (recorded in slug.json for the
deploy step); other types are kept for later (workers).
"""

from __future__ import annotations

import re
from pathlib import Path

from builder.errors import BuildFailed

LINE_RE = re.compile(r"^([A-Za-z0-9_-]{1,63})\s*:\s*(.*?)\s*$")


def parse_procfile(text: str) -> dict[str, str]:
    """Process type -> command; BuildFailed naming the line that is wrong."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE_RE.match(line)
        if match is None or not match.group(2):
            raise BuildFailed(
                f"Procfile line {number} is not '<type>: <command>': {raw!r} "
                "(types are letters, digits, '-' and '_')"
            )
        kind, command = match.groups()
        if kind in processes:
            raise BuildFailed(f"Procfile line {number}: process type {kind!r} is defined twice")
        processes[kind] = command
    return processes


def read_procfile(app: Path) -> dict[str, str]:
    """The app's Procfile, or {} when it has none."""
    path = app / "Procfile"
    if not path.is_file():
        return {}
    try:
        return parse_procfile(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise BuildFailed(f"Procfile is not UTF-8 text: {exc}") from exc
