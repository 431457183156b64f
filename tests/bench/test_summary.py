"""The summary of ``make bench``: targets met or not, the table, and the change since last run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import Figure, read_figures, read_run, write_figures
from bench.summary import change_text, main, number, table


def ready_p99(value: float) -> Figure:
    return Figure(
        "pods",
        "process, at once: create -> Ready p99",
        value,
        "s",
        anchor=0.2,
        anchor_name="python3 run by hand",
        target=0.5,
    )


def proxied(rate: float) -> Figure:
    return Figure(
        "net_proxy",
        "python through iptables: requests/s",
        rate,
        "/s",
        better="higher",
        anchor=10_000.0,
        target=0.7,
        of_anchor=True,
    )


def failed(count: int) -> Figure:
    return Figure("rollout", "failed requests", count, "requests", target=0.0)


@pytest.mark.parametrize(
    ("figure", "met"),
    [
        (ready_p99(0.4), True),
        (ready_p99(0.5), True),
        (ready_p99(0.6), False),
        (proxied(7_500.0), True),  # 75% of direct
        (proxied(6_000.0), False),
        (Figure("api", "get p50", 1.0, "ms"), None),  # no target
        (Figure("x", "share of nothing", 1.0, "/s", target=0.7, of_anchor=True), None),
    ],
)
def test_a_target_is_met_in_the_figures_direction(figure: Figure, met: bool | None) -> None:
    assert figure.met is met


@pytest.mark.parametrize(
    ("now", "before", "text"),
    [
        (ready_p99(0.30), ready_p99(0.60), "-50% better"),
        (ready_p99(0.90), ready_p99(0.60), "+50% worse"),
        (ready_p99(0.61), ready_p99(0.60), "~"),  # within the noise
        (proxied(12_000.0), proxied(10_000.0), "+20% better"),  # more requests/s is better
        (proxied(8_000.0), proxied(10_000.0), "-20% worse"),
        (ready_p99(0.5), None, ""),
        (failed(3), failed(0), "was 0, worse"),  # a count of failures has no share of 0
        (failed(0), failed(0), "~"),
    ],
)
def test_a_change_says_better_or_worse_by_the_figures_direction(
    now: Figure, before: Figure | None, text: str
) -> None:
    assert change_text(now, before) == text


def test_numbers_keep_about_three_digits() -> None:
    assert [number(v) for v in (12345.6, 456.7, 45.67, 4.567, 0.4567)] == [
        "12,346",
        "457",
        "45.7",
        "4.57",
        "0.457",
    ]
    assert number(0.3125, "s") == "0.312 s"
    assert number(0, "requests") == "0 requests" and number(12345) == "12,345"
    assert number(None) == "-"


def test_the_table_puts_each_figure_beside_anchor_target_and_last_run() -> None:
    text = table([ready_p99(0.75), proxied(9_000.0)], {ready_p99(0.5).key: ready_p99(0.5)})
    head, rule, pods, proxy, *rest = text.splitlines()
    assert head.split() == [
        "bench", "figure", "value", "anchor", "x", "anchor", "target", "met", "previous", "change"
    ]  # fmt: skip
    assert set(rule.replace(" ", "")) == {"-"}
    cells = [c.strip() for c in pods.split("  ") if c.strip()]
    assert cells == [
        "pods", "process, at once: create -> Ready p99", "0.750 s", "0.200 s", "3.75x",
        "<= 0.500 s", "NO", "0.500 s", "+50% worse",
    ]  # fmt: skip
    cells = [c.strip() for c in proxy.split("  ") if c.strip()]
    assert cells[2:] == ["9,000 /s", "10,000 /s", "0.90x", ">= 70% of anchor", "yes"]
    assert "  pods: python3 run by hand" in rest
    assert "targets: 1 met, 1 not met" in rest
    assert "  NOT met: pods: process, at once: create -> Ready p99 = 0.750 s" in rest


def test_a_run_is_written_compared_with_the_last_one_and_kept_as_previous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "latest.json"
    pods = tmp_path / "run" / "pods.json"
    write_figures(pods, [ready_p99(0.6)])
    assert main([str(pods), "--out", str(out)]) == 0
    assert "no earlier run to compare with" in capsys.readouterr().out
    first = json.loads(out.read_text())
    assert first["format"] == 1 and first["date"] and first["cores"]

    write_figures(pods, [ready_p99(0.3)])
    assert main([str(pods), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"compared with the run of {first['date']}" in printed
    assert "-50% better" in printed
    assert read_figures(out) == [ready_p99(0.3)]
    assert read_figures(out.with_name("previous.json")) == [ready_p99(0.6)]


def test_a_bench_without_figures_fails_the_summary_but_the_others_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latest.json"
    pods = tmp_path / "pods.json"
    write_figures(pods, [ready_p99(0.4)])
    assert main([str(tmp_path / "api.json"), str(pods), "--out", str(out)]) == 1
    assert "no figures from" in capsys.readouterr().err
    assert read_figures(out) == [ready_p99(0.4)]


def test_files_of_older_runs_with_other_fields_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    item = {**ready_p99(0.4).to_json(), "retired_field": 1}
    path.write_text(json.dumps({"format": 1, "date": "then", "figures": [item]}))
    about, figures = read_run(path)
    assert about == {"date": "then"} and figures == [ready_p99(0.4)]
    path.write_text("[]")
    with pytest.raises(ValueError, match="not a file of benchmark figures"):
        read_figures(path)
