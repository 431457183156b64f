"""Benchmark figures in one shape, so that ``make bench`` can end with one table of them all.

Every bench module keeps printing its own report, and also turns what it
measured into ``Figure``s: a value with its unit, the anchor it is compared
with (measured in the same run), the target the issue set, and which way is
better. ``python -m bench.<module> --results FILE`` writes them to FILE
(``write_figures``); ``bench.summary`` reads those files, prints the one
table, compares it with the previous run's and writes the run's JSON.

A target is either absolute ("p99 <= 0.5 s") or a share of the anchor
("keeps >= 70% of the requests/s of a direct connection"): ``of_anchor``.
The JSON is plain: ``{"format": 1, "figures": [{field: value, ...}, ...]}``
plus, for a whole run, when and on what it ran; unknown fields are ignored on
reading, so files of older runs stay comparable.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

FORMAT = 1
Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its anchor and its target."""

    bench: str  # the module that measured it: "api", "pods", ...
    name: str  # what it is, unique within the bench: "process, at once: create -> Ready p99"
    value: float
    unit: str  # "s", "ms", "/s", "us", "%"
    better: Better = "lower"
    anchor: float | None = None  # the same measure of the anchor, same run, same unit
    anchor_name: str = ""  # what the anchor is: "python3 run by hand"
    target: float | None = None  # the bound the value should meet
    of_anchor: bool = False  # the target is a share of the anchor (0.7 = 70% of it)

    @property
    def key(self) -> tuple[str, str]:
        return (self.bench, self.name)

    @property
    def bound(self) -> float | None:
        """The target in the value's own unit (None: no target, or no anchor to take a share of)."""
        if self.target is None:
            return None
        if not self.of_anchor:
            return self.target
        return None if self.anchor is None else self.target * self.anchor

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without one."""
        bound = self.bound
        if bound is None or math.isnan(self.value):
            return None
        return self.value <= bound if self.better == "lower" else self.value >= bound

    @property
    def of_anchor_value(self) -> float | None:
        """value / anchor (None without an anchor or with a zero one)."""
        if self.anchor is None or self.anchor == 0:
            return None
        return self.value / self.anchor

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def write_figures(path: Path, figures: Iterable[Figure], **about: Any) -> None:
    """Write ``figures`` (and ``about``: when, where) to ``path`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": FORMAT, **about, "figures": [f.to_json() for f in figures]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n")
    tmp.replace(path)  # a reader never sees half a file


def read_run(path: Path) -> tuple[dict[str, Any], list[Figure]]:
    """What ``write_figures`` wrote: (what it said about the run, the figures); ValueError if
    the file is not one."""
    try:
        body = json.loads(path.read_text())
        about = {k: v for k, v in body.items() if k not in ("format", "figures")}
        return about, [Figure.from_json(item) for item in body["figures"]]
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a file of benchmark figures: {exc}") from exc


def read_figures(path: Path) -> list[Figure]:
    return read_run(path)[1]


def save_if_asked(path: Path | None, figures: Iterable[Figure]) -> None:
    """A bench module's ``--results FILE``: write there when given, say where on stderr."""
    if path is None:
        return
    figures = list(figures)
    write_figures(path, figures)
    print(f"  {len(figures)} figures written to {path}", file=sys.stderr, flush=True)
