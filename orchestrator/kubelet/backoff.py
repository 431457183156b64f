"""Restart back-off per container (CrashLoopBackOff) and per image (ImagePullBackOff).

The kubelet's rule, kept here as a small pure object with the time passed
in: the first restart of a container that exited happens at once; each later
one waits ``delay`` after the last exit, the delay doubling from ``base``
(10 s) up to ``cap`` (5 min). A container that ran for ``reset_after``
(10 min) before exiting starts over at the bottom: it was healthy, this is a
new failure. So the gaps between exit and restart are 0, 10, 20, 40 ... s.

Like the kubelet's, this memory is the agent's only: a restarted agent
starts every pod's back-off afresh (restarts then come sooner, never later).
Keys are ``(pod uid, container name)``; ``forget(uid)`` drops a pod's.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackoffSettings:
    base: float = 10.0  # the kubelet's initial container restart back-off
    cap: float = 300.0  # ... and its maximum (5 min)
    reset_after: float = 600.0  # a container that ran this long restarts without back-off


@dataclass
class Backoff:
    settings: BackoffSettings = field(default_factory=BackoffSettings)
    _delays: dict[tuple[str, str], float] = field(default_factory=dict)

    def wait(
        self, key: tuple[str, str], since: float, now: float, ran: float | None = None
    ) -> float:
        """Seconds still to wait before the next attempt, counted from ``since`` (the exit)."""
        delay = self._delays.get(key)
        if delay is None or (ran is not None and ran >= self.settings.reset_after):
            return 0.0
        return max(0.0, since + delay - now)

    def delay(self, key: tuple[str, str]) -> float:
        """The back-off in force for ``key`` (0 before the first restart)."""
        return self._delays.get(key, 0.0)

    def step(self, key: tuple[str, str], ran: float | None = None) -> float:
        """Record an attempt made now; ``ran``: how long the exited container had run."""
        current = self._delays.get(key)
        long_run = ran is not None and ran >= self.settings.reset_after
        if current is None or long_run:
            chosen = self.settings.base
        else:
            chosen = min(self.settings.cap, current * 2)
        self._delays[key] = chosen
        return chosen

    def reset(self, key: tuple[str, str]) -> None:
        self._delays.pop(key, None)

    def forget(self, uid: str) -> None:
        for key in [k for k in self._delays if k[0] == uid]:
            del self._delays[key]
