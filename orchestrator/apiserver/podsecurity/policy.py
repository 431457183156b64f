"""Levels, versions and the namespace labels that choose them.

A namespace says its policy with ``pod-security.kubernetes.io/<mode>`` and
``…/<mode>-version`` labels, mode one of enforce, audit, warn (Kubernetes'
``api/helpers.go``). A missing label falls back to the configured default; a
bad value is refused when a namespace is written, and if one is stored anyway
(written before the plugin ran, or by another server) it evaluates as
``restricted:latest`` for enforce and fails open (privileged) for warn and
audit, as Kubernetes does.

Versions are ``latest`` or ``v1.<minor>``; a pinned minor newer than the
newest check evaluates as that newest one, which ``latest`` always is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.api.validation_causes import Cause, invalid

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")
_LABELS_PATH = "metadata.labels"
_LEVELS = "privileged, baseline, restricted"


class Level(StrEnum):
    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return ("privileged", "baseline", "restricted").index(self.value)


@dataclass(frozen=True, order=True)
class Version:
    """A policy version: ``v1.<minor>``, or ``latest`` (``minor`` None, newer than any)."""

    minor: int | None = None

    @property
    def latest(self) -> bool:
        return self.minor is None

    def at_least(self, minor: int) -> bool:
        return self.minor is None or self.minor >= minor

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"


LATEST = Version()


@dataclass(frozen=True)
class LevelVersion:
    level: Level
    version: Version = LATEST

    def __str__(self) -> str:
        return f"{self.level.value}:{self.version}"


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion

    def of(self, mode: str) -> LevelVersion:
        return {"enforce": self.enforce, "audit": self.audit, "warn": self.warn}[mode]


def parse_level(text: str) -> Level | None:
    try:
        return Level(text)
    except ValueError:
        return None


def parse_version(text: str) -> Version | None:
    if text == "latest":
        return LATEST
    match = _VERSION.match(text)
    return Version(int(match.group(1))) if match else None


def policy_for(labels: Mapping[str, str], defaults: Policy) -> tuple[Policy, list[Cause]]:
    """The policy a namespace's labels choose, and a cause per invalid label."""
    causes: list[Cause] = []
    chosen: dict[str, LevelVersion] = {}
    for mode in MODES:
        default = defaults.of(mode)
        level, version = default.level, default.version
        key = LABEL_PREFIX + mode
        if key in labels:
            value = labels[key]
            parsed = parse_level(value)
            if parsed is None:
                causes.append(_invalid(key, value, f"must be one of {_LEVELS}"))
                # enforce fails closed, warn and audit fail open (api/helpers.go)
                parsed = Level.RESTRICTED if mode == "enforce" else Level.PRIVILEGED
            level = parsed
        key = f"{LABEL_PREFIX}{mode}-version"
        if key in labels:
            value = labels[key]
            pinned = parse_version(value)
            if pinned is None:
                causes.append(_invalid(key, value, 'must be "latest" or "v1.x"'))
                pinned = LATEST
            version = pinned
        chosen[mode] = LevelVersion(level, version)
    return Policy(chosen["enforce"], chosen["audit"], chosen["warn"]), causes


def _invalid(key: str, value: str, why: str) -> Cause:
    return invalid(f"{_LABELS_PATH}[{key}]", value, why)
