"""A stand-in build function for the git server's tests (the real one detects buildpacks).

It prints a few lines, then looks at the pushed tree: ``FAIL`` fails the
build with the file's text, ``SLOW`` prints a line every 0.1 s for as many
seconds as the file says (a build to race or cancel), ``HANG`` sleeps
without a word. Otherwise it writes a slug directory with ``slug.json``
and returns ``slug:sha256:<digest of the tree>``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def digest(tree: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(tree)).encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def build(source: Path, out: Callable[[str], None], context: Any) -> str:
    out(f"building {context.app} {context.branch} at {context.commit[:7]}")
    out(f"files: {', '.join(sorted(p.name for p in source.iterdir()))}")
    if (source / "FAIL").exists():
        raise RuntimeError((source / "FAIL").read_text().strip())
    if (source / "SLOW").exists():
        deadline = time.monotonic() + float((source / "SLOW").read_text())
        step = 0
        while time.monotonic() < deadline:
            step += 1
            out(f"step {step}")
            time.sleep(0.1)
    if (source / "HANG").exists():
        time.sleep(3600)
    hexdigest = digest(source)
    slug = Path(context.data_dir) / "slugs" / f"sha256-{hexdigest}"
    slug.mkdir(parents=True, exist_ok=True)
    (slug / "slug.json").write_text(json.dumps({"cmd": ["true"], "env": {}}))
    return f"slug:sha256:{hexdigest}"
