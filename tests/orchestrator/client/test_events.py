"""The event recorder's spam filter and similar-event aggregation, against a real API server."""

from __future__ import annotations

from support.apiserver import RunningAPI
from support.wait import eventually_async

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.events import COMBINED, EventLimits, EventRecorder, EventThrottle
from orchestrator.client.rest import APIClient

EVENTS = BUILTIN_TYPES.require("", "Event")


class FakeClock:
    """A monotonic clock the test moves by hand (the throttle's only input besides calls)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_spam_filter_allows_a_burst_then_one_per_refill() -> None:
    clock = FakeClock()
    throttle = EventThrottle(EventLimits(spam_burst=3, spam_refill=10), clock)
    assert [throttle.admit("rs-1") for _ in range(4)] == [True, True, True, False]
    assert throttle.admit("rs-2")  # another object has its own bucket
    clock.now += 10
    assert throttle.admit("rs-1")
    assert not throttle.admit("rs-1")


def test_similar_messages_are_combined_past_the_limit_within_the_window() -> None:
    clock = FakeClock()
    throttle = EventThrottle(EventLimits(similar_limit=2, similar_window=60), clock)
    said = [
        throttle.message("rs", "Normal", "SuccessfulCreate", f"Created pod: p{i}") for i in range(4)
    ]
    assert said[:2] == ["Created pod: p0", "Created pod: p1"]
    assert said[2:] == [COMBINED + "Created pod: p2", COMBINED + "Created pod: p3"]
    assert (
        throttle.message("rs", "Normal", "SuccessfulCreate", "Created pod: p0") == "Created pod: p0"
    )
    assert (
        throttle.message("rs", "Normal", "SuccessfulDelete", "Deleted pod: p0") == "Deleted pod: p0"
    )
    clock.now += 61
    assert (
        throttle.message("rs", "Normal", "SuccessfulCreate", "Created pod: p9") == "Created pod: p9"
    )


async def test_many_events_about_one_object_end_as_few_events(sqlite_api: RunningAPI) -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
    }
    async with APIClient(sqlite_api.client_config()) as client:
        recorder = EventRecorder(client, "test", limits=EventLimits(spam_burst=8, similar_limit=3))
        for i in range(20):
            recorder.record(owner, "Normal", "SuccessfulCreate", f"Created pod: web-{i}")
        await recorder.close()

        async def four_events() -> list[dict] | None:
            items = (await client.list(EVENTS, "default"))["items"]
            return items if len(items) == 4 else None

        items = await eventually_async(four_events)
    plain = sorted(e["message"] for e in items if not e["message"].startswith(COMBINED))
    combined = [e for e in items if e["message"].startswith(COMBINED)]
    assert plain == ["Created pod: web-0", "Created pod: web-1", "Created pod: web-2"]
    # 8 admitted by the filter: 3 plain, then 5 folded into the combined one
    assert len(combined) == 1 and combined[0]["count"] == 5
    assert combined[0]["message"] == COMBINED + "Created pod: web-7"
