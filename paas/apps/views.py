"""Typed, read-only views of the App and Build fields the controller reads.

The objects themselves stay plain dicts (every field round-trips); these
views are made once per pass so that the planners read attributes instead
of chains of ``.get(...) or {}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.kinds import DEPLOYED, RELEASE_ANNOTATION, main_branch
from orchestrator.api.conditions import Condition, condition_of

Obj = dict[str, Any]
# The App CRD's defaults (builder/crds/app.yaml), for an App read before they applied.
MAIN_MIN_SCALE = 1  # production answers its first request without a cold start
PREVIEW_MIN_SCALE = 0  # an idle preview costs nothing


def _min_scale(part: Any, default: int) -> int:
    value = part.get("minScale") if isinstance(part, Mapping) else None
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


@dataclass(frozen=True)
class AppView:
    name: str
    namespace: str
    uid: str
    main_branch: str
    env: tuple[tuple[str, str], ...]  # spec.env, in order
    generation: int
    main_min_scale: int  # spec.main.minScale: instances the main branch keeps when idle
    preview_min_scale: int  # spec.previews.minScale: 0 lets previews scale to zero
    obj: Mapping[str, Any]

    @classmethod
    def of(cls, app: Mapping[str, Any]) -> AppView:
        meta = app["metadata"]
        spec = app.get("spec") or {}
        env = tuple(
            (str(e["name"]), str(e.get("value") or ""))
            for e in spec.get("env") or []
            if isinstance(e, Mapping) and e.get("name")
        )
        return cls(
            name=meta["name"],
            namespace=meta.get("namespace") or "default",
            uid=meta.get("uid") or "",
            main_branch=main_branch(dict(app)),
            env=env,
            generation=int(meta.get("generation") or 0),
            main_min_scale=_min_scale(spec.get("main"), MAIN_MIN_SCALE),
            preview_min_scale=_min_scale(spec.get("previews"), PREVIEW_MIN_SCALE),
            obj=app,
        )

    def min_scale(self, branch: str) -> int:
        return self.main_min_scale if branch == self.main_branch else self.preview_min_scale


@dataclass(frozen=True)
class BuildView:
    name: str
    uid: str
    branch: str
    commit: str
    phase: str
    result: str  # the slug or image reference ("" until it succeeded)
    release: str  # the release command ("" = none)
    created: str  # creationTimestamp (RFC 3339 sorts as text)
    deployed: Condition | None  # the controller's condition, if it wrote one

    @classmethod
    def of(cls, build: Mapping[str, Any]) -> BuildView:
        meta = build["metadata"]
        spec = build.get("spec") or {}
        status = build.get("status") or {}
        return cls(
            name=meta["name"],
            uid=meta.get("uid") or "",
            branch=str(spec.get("branch") or ""),
            commit=str(spec.get("commit") or ""),
            phase=str(status.get("phase") or ""),
            result=str(status.get("result") or ""),
            release=str((meta.get("annotations") or {}).get(RELEASE_ANNOTATION) or ""),
            created=str(meta.get("creationTimestamp") or ""),
            deployed=condition_of(build, DEPLOYED),
        )

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded" and bool(self.result)

    @property
    def deploy_state(self) -> str:
        """``True`` (went live), ``False`` (never will), ``Unknown`` or "" (not yet judged)."""
        return str((self.deployed or {}).get("status") or "")

    @property
    def order(self) -> tuple[str, str]:
        return (self.created, self.name)
