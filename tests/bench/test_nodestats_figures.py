"""bench/nodestats' figures: a stats pass's share of a core is judged against 2 %."""

from __future__ import annotations

from bench.nodestats import figures


def test_a_pass_share_of_a_core_has_the_idle_agent_as_anchor_and_a_two_percent_target() -> None:
    results = {
        "cgroups": {"per_pass_ms": 30.0, "share": 0.3, "idle_share": 0.05, "containers": 50},
        "/proc": {"per_pass_ms": 300.0, "share": 3.0, "idle_share": 0.05, "containers": 50},
    }
    by_name = {f.name: f for f in figures(results)}
    cgroups = by_name["cgroups, 50 pods: % of a core at a 10 s interval"]
    assert (cgroups.value, cgroups.anchor, cgroups.target, cgroups.met) == (0.3, 0.05, 2.0, True)
    assert by_name["/proc, 50 pods: % of a core at a 10 s interval"].met is False
    assert by_name["cgroups, 50 pods: CPU per stats pass"].unit == "ms"
