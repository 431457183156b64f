"""Reading manifests: files, directories and stdin into a flat list of objects.

A source is a YAML stream (several documents separated by ``---``) or JSON
(which is YAML too, so one parser serves both); a directory contributes its
``.yaml``, ``.yml`` and ``.json`` files in name order, not recursively, as
``kubectl apply -f DIR`` does. Empty documents are skipped and ``kind: List``
is unpacked into its items, so that ``paas get -o yaml`` output applies again.

Every object remembers where it came from (``Manifest.source``, with the line
its document starts on) so that errors can name the file. A document that does
not parse raises ``ManifestError`` naming the file and line; an object that is
missing ``apiVersion``, ``kind`` or ``metadata.name`` is reported the same way,
before anything is sent to the server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest that cannot be read or is not an API object; says which and where."""


@dataclass(frozen=True)
class Manifest:
    source: str  # the file name ("-" for stdin) the object was read from
    line: int  # 1-based line its document starts on
    obj: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def split_documents(text: str, source: str) -> list[Manifest]:
    """The API objects in one YAML/JSON text (empty documents dropped, Lists unpacked)."""
    loader = yaml.SafeLoader(text)
    out: list[Manifest] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            doc = loader.construct_document(node)
            out.extend(_objects(doc, source, line))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"error parsing {where}: {problem}") from exc
    finally:
        loader.dispose()
    return out


def _objects(doc: Any, source: str, line: int) -> Iterable[Manifest]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ManifestError(
            f"error parsing {source}:{line}: a manifest must be an object with apiVersion and "
            f"kind, not a {type(doc).__name__}"
        )
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        return [m for item in doc["items"] for m in _objects(item, source, line)]
    missing = [f for f in ("apiVersion", "kind") if not isinstance(doc.get(f), str) or not doc[f]]
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        missing.append("metadata.name")
    if missing:
        raise ManifestError(
            f"error validating {source}:{line}: the object is missing {', '.join(missing)}"
        )
    return [Manifest(source=source, line=line, obj=doc)]


def manifest_files(path: Path) -> list[Path]:
    """The files a ``-f`` argument names: itself, or a directory's manifests."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise ManifestError(f"no .yaml, .yml or .json files in directory {path}")
        return files
    if not path.exists():
        raise ManifestError(f'the path "{path}" does not exist')
    return [path]


def read_manifests(sources: list[str], stdin: TextIO | None = None) -> list[Manifest]:
    """Every object named by the ``-f`` arguments, in order."""
    out: list[Manifest] = []
    for source in sources:
        if source == "-":
            out += split_documents((stdin or sys.stdin).read(), "STDIN")
            continue
        for file in manifest_files(Path(source)):
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise ManifestError(f"cannot read {file}: {exc}") from exc
            out += split_documents(text, str(file))
    return out
