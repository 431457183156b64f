"""Reading files as an unprivileged local user (``nobody``), for tests of file modes.

The tests run as root; ``setpriv`` drops to uid/gid 65534 with no supplementary
groups and runs the system's Python in isolated mode (``-I``), so the reader has
exactly the rights any other local user has.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.engines import require_engine

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-I"]

# Reads the paths given as JSON on stdin; prints those it could open.
READ_EACH = """
import json, sys
opened = []
for path in json.load(sys.stdin):
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError:
        continue
    opened.append(path)
print(json.dumps(opened))
"""


def require_switching_users() -> None:
    """Skip (or fail under PAAS_REQUIRE_ENGINES=1) where no other user can be become."""
    if os.geteuid() != 0:
        pytest.skip("reading as another user needs root to switch to it")
    require_engine("setpriv", shutil.which("setpriv") is not None, "setpriv (util-linux) missing")


def opened_as_nobody(paths: list[Path]) -> list[str]:
    """Those of ``paths`` that ``nobody`` could open and read."""
    done = subprocess.run(
        [*NOBODY, "-c", READ_EACH],
        input=json.dumps([str(p) for p in paths]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(done.stdout))
