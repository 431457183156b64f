"""What every control loop is given: one client, shared informers, an event recorder, a clock.

The controllers and the scheduler are built the same way, from a
``ControllerContext`` made once per process (``paas controller-manager``,
``paas scheduler``, or both in one): each asks ``informers`` for the
informers it reads, so loops in one process share one cache and one watch
per resource; writes go through ``client``; Events through ``recorder``,
which never blocks a loop. ``clock`` and the worker and backoff knobs are
here so that tests can move time and shorten timers for every loop at once.

It lives with the client machinery it bundles, below every control loop,
so that a loop of one kind (the scheduler) needs nothing from another
(the controllers) to be built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestrator.client.events import EventRecorder
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.client.workqueue import BackoffSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ControllerContext:
    client: APIClient
    informers: SharedInformers
    recorder: EventRecorder
    clock: Callable[[], datetime] = utc_now  # injected so tests can move time (cron, grace)
    workers: int = 2  # concurrent reconciles per controller
    backoff: BackoffSettings = field(default_factory=BackoffSettings)
