"""The one table of every benchmark figure, and how each moved since the previous run.

``python -m bench.summary FILE... --out bench/results/latest.json`` (the last
step of ``make bench``) reads the figures each bench module wrote with
``--results``, prints them as one table, each beside its anchor (and the
ratio to it) and its target (met or not), and, when ``--out`` holds an
earlier run, beside that run's value with the change. Then the earlier run
is kept as ``previous.json`` next to ``--out`` and this run is written to
``--out``: the next run compares with this one.

A change within ``NOISE`` (5%) is shown as "~": runs on this shared
two-core machine differ by that much with nothing changed. Beyond it, the
figure's own direction says whether it is better or worse.

A file that is missing or unreadable (its bench failed, say) is named on
stderr and the exit status is 1; the figures of the others are still
printed and written.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Figure, read_figures, read_run, write_figures

NOISE = 0.05
HEAD = ("bench", "figure", "value", "anchor", "x anchor", "target", "met", "previous", "change")


def number(value: float | None, unit: str = "") -> str:
    """A value with about three significant digits (thousands grouped), and its unit."""
    if value is None:
        return "-"
    size = abs(value)
    if isinstance(value, int):  # a count: 0 failed requests
        text = f"{value:,}"
    elif size >= 1000:
        text = f"{value:,.0f}"
    elif size >= 100:
        text = f"{value:.0f}"
    elif size >= 10:
        text = f"{value:.1f}"
    elif size >= 1 or size == 0:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}" if unit else text


def target_text(f: Figure) -> str:
    if f.target is None:
        return ""
    sign = "<=" if f.better == "lower" else ">="
    if f.of_anchor:
        return f"{sign} {f.target:.0%} of anchor"
    return f"{sign} {number(f.target, f.unit)}"


def met_text(f: Figure) -> str:
    met = f.met
    return "" if met is None else ("yes" if met else "NO")


def change_text(now: Figure, before: Figure | None) -> str:
    """How the value moved since ``before``: "+12% worse", "-30% better", "~" within the
    noise, "" without an earlier value."""
    if before is None:
        return ""
    if now.value == before.value:
        return "~"
    improved = now.value < before.value if now.better == "lower" else now.value > before.value
    verdict = "better" if improved else "worse"
    if before.value == 0:
        return f"was 0, {verdict}"  # no share of nothing: a count of failures, say
    delta = (now.value - before.value) / abs(before.value)
    return "~" if abs(delta) < NOISE else f"{delta:+.0%} {verdict}"


def rows(figures: Iterable[Figure], previous: dict[tuple[str, str], Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        before = previous.get(f.key)
        ratio = f.of_anchor_value
        out.append(
            [
                f.bench,
                f.name,
                number(f.value, f.unit),
                number(f.anchor, f.unit) if f.anchor is not None else "",
                f"{ratio:.2f}x" if ratio is not None else "",
                target_text(f),
                met_text(f),
                number(before.value, before.unit) if before is not None else "",
                change_text(f, before),
            ]
        )
    return out


def table(figures: list[Figure], previous: dict[tuple[str, str], Figure]) -> str:
    """The table as text: left-aligned words, right-aligned numbers, anchors listed below."""
    body = rows(figures, previous)
    widths = [max(len(r[i]) for r in [list(HEAD), *body]) for i in range(len(HEAD))]
    left = {0, 1, 5, 6, 8}

    def line(cells: list[str]) -> str:
        parts = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    lines = [line(list(HEAD)), line(["-" * w for w in widths])]
    lines += [line(r) for r in body]
    anchors = dict.fromkeys((f.bench, f.anchor_name) for f in figures if f.anchor_name)
    if anchors:
        lines += ["", "anchors:"]
        lines += [f"  {bench}: {name}" for bench, name in anchors]
    missed = [f for f in figures if f.met is False]
    met = [f for f in figures if f.met is True]
    lines += ["", f"targets: {len(met)} met, {len(missed)} not met"]
    lines += [f"  NOT met: {f.bench}: {f.name} = {number(f.value, f.unit)}" for f in missed]
    return "\n".join(lines)


def about_run() -> dict[str, object]:
    """When and on what the run happened, for whoever compares two JSON files later."""
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path, help="figures a bench module wrote (--results)")
    p.add_argument(
        "--out", type=Path, required=True, help="this run's JSON (the last run's is read first)"
    )
    args = p.parse_args(argv)
    figures: list[Figure] = []
    failed = False
    for path in args.files:
        try:
            figures += read_figures(path)
        except (OSError, ValueError) as exc:
            print(f"bench.summary: no figures from {path}: {exc}", file=sys.stderr)
            failed = True
    previous: dict[tuple[str, str], Figure] = {}
    before: dict[str, object] = {}
    if args.out.exists():
        try:
            before, earlier = read_run(args.out)
            previous = {f.key: f for f in earlier}
        except ValueError as exc:
            print(f"bench.summary: not comparing: {exc}", file=sys.stderr)
    print(f"\nAll benchmark figures ({len(figures)})", end="")
    if previous:
        print(f", compared with the run of {before.get('date', '?')} ({before.get('commit', '?')})")
    else:
        print(" (no earlier run to compare with)")
    print(table(figures, previous))
    if args.out.exists():
        args.out.replace(args.out.with_name("previous.json"))
    write_figures(args.out, figures, **about_run())
    print(f"\nwritten to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
