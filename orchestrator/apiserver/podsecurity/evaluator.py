"""Run a level's checks over a pod and phrase what it breaks.

``evaluate`` is pure: a level and version, a pod's metadata and spec, and
the violations in Kubernetes' order (baseline's non-overlapping checks,
then at baseline the overlapping ones, at restricted the restricted ones).
``detail`` joins them as Kubernetes' ``ForbiddenDetail`` does (``reason
(detail), reason``); ``reasons`` without details, as a namespace dry run
groups pods by them.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.apiserver.podsecurity import baseline, restricted
from orchestrator.apiserver.podsecurity.policy import Level, LevelVersion
from orchestrator.apiserver.podsecurity.results import Check, Obj, Violation

_BASELINE_FIRST = tuple(c for c in baseline.CHECKS if not c.overlap)
_BASELINE_ONLY = tuple(c for c in baseline.CHECKS if c.overlap)
_PLANS: dict[Level, tuple[Check, ...]] = {
    Level.PRIVILEGED: (),
    Level.BASELINE: _BASELINE_FIRST + _BASELINE_ONLY,
    Level.RESTRICTED: _BASELINE_FIRST + restricted.CHECKS,
}


def evaluate(policy: LevelVersion, meta: Obj, spec: Obj) -> list[Violation]:
    version = policy.version
    return [
        violation
        for check in _PLANS[policy.level]
        if version.at_least(check.since)
        and (violation := check.run(meta, spec, version)) is not None
    ]


def detail(violations: Sequence[Violation]) -> str:
    return ", ".join(str(v) for v in violations)


def reasons(violations: Sequence[Violation]) -> str:
    return ", ".join(v.reason for v in violations)
