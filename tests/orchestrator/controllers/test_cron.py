"""The cron parser: what a schedule means, and the clear errors for what it cannot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.controllers.cron import CronSyntaxError, next_schedule_times, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("* * * * *", "2024-05-01T10:00:30", "2024-05-01T10:01"),
        ("* * * * *", "2024-05-01T10:00:00", "2024-05-01T10:01"),
        ("*/15 * * * *", "2024-05-01T10:16", "2024-05-01T10:30"),
        ("5 * * * *", "2024-05-01T10:05", "2024-05-01T11:05"),
        ("0 0 * * *", "2024-12-31T23:59", "2025-01-01T00:00"),
        ("30 9-17/4 * * *", "2024-05-01T13:31", "2024-05-01T17:30"),
        ("0,30 8 * * *", "2024-05-01T08:00", "2024-05-01T08:30"),
        ("0 12 * JAN,jul *", "2024-02-01T00:00", "2024-07-01T12:00"),
        ("0 9 * * MON-FRI", "2024-05-03T09:00", "2024-05-06T09:00"),  # Friday -> Monday
        ("0 9 * * 7", "2024-05-01T00:00", "2024-05-05T09:00"),  # 7 is Sunday
        ("0 9 * * sun", "2024-05-01T00:00", "2024-05-05T09:00"),
        ("0 0 29 2 *", "2024-03-01T00:00", "2028-02-29T00:00"),  # leap days only
        ("0 0 31 * *", "2024-04-01T00:00", "2024-05-31T00:00"),  # April has no 31st
        ("10/20 * * * *", "2024-05-01T10:31", "2024-05-01T10:50"),  # a/n: from a to the end
        ("? * * * ?", "2024-05-01T10:00", "2024-05-01T10:01"),
        ("@hourly", "2024-05-01T10:00", "2024-05-01T11:00"),
        ("@daily", "2024-05-01T10:00", "2024-05-02T00:00"),
        ("@midnight", "2024-05-01T10:00", "2024-05-02T00:00"),
        ("@weekly", "2024-05-01T10:00", "2024-05-05T00:00"),
        ("@monthly", "2024-05-01T10:00", "2024-06-01T00:00"),
        ("@yearly", "2024-05-01T10:00", "2025-01-01T00:00"),
        ("@annually", "2024-05-01T10:00", "2025-01-01T00:00"),
        ("CRON_TZ=UTC 0 6 * * *", "2024-05-01T10:00", "2024-05-02T06:00"),
    ],
)
def test_next_time_after(expr: str, after: str, expected: str) -> None:
    assert parse_schedule(expr).next_after(at(after)) == at(expected)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        # both day fields restricted: either one matches (13th OR Friday)
        ("0 0 13 * FRI", "2024-09-01T00:00", "2024-09-06T00:00"),  # Friday 6th
        ("0 0 13 * FRI", "2024-09-11T00:00", "2024-09-13T00:00"),  # Friday 13th
        ("0 0 13 * FRI", "2024-10-05T00:00", "2024-10-11T00:00"),  # Fri 11th before the 13th
        ("0 0 13 * FRI", "2024-10-11T00:00", "2024-10-13T00:00"),  # Sunday 13th
        # one of them a star: only the other counts
        ("0 0 13 * *", "2024-09-01T00:00", "2024-09-13T00:00"),
        ("0 0 * * FRI", "2024-09-07T00:00", "2024-09-13T00:00"),
        ("0 0 1,15 * MON", "2024-09-01T00:00", "2024-09-02T00:00"),  # Monday 2nd: OR
        # a step over a star counts as a star: a Monday that is the 1st, 11th, 21st or 31st
        ("0 0 */10 * MON", "2024-09-01T00:00", "2024-10-21T00:00"),
        ("0 0 * * */3", "2024-09-01T00:00", "2024-09-04T00:00"),  # Sun, Wed, Sat
    ],
)
def test_day_of_month_and_day_of_week_combine_as_vixie_cron(
    expr: str, after: str, expected: str
) -> None:
    assert parse_schedule(expr).next_after(at(after)) == at(expected)


@pytest.mark.parametrize(
    ("expr", "at_or_before", "expected"),
    [
        ("* * * * *", "2024-05-01T10:00:59", "2024-05-01T10:00"),
        ("0 * * * *", "2024-05-01T10:59", "2024-05-01T10:00"),
        ("0 0 1 1 *", "2024-05-01T10:00", "2024-01-01T00:00"),
        ("0 9 * * MON", "2024-05-01T00:00", "2024-04-29T09:00"),
        ("0 0 29 2 *", "2027-05-01T00:00", "2024-02-29T00:00"),
    ],
)
def test_latest_time_at_or_before(expr: str, at_or_before: str, expected: str) -> None:
    assert parse_schedule(expr).latest_at_or_before(at(at_or_before)) == at(expected)


def test_a_schedule_that_never_fires_has_no_next_time() -> None:
    assert parse_schedule("0 0 30 2 *").next_after(at("2024-01-01T00:00")) is None


def test_times_between_two_instants_are_listed_oldest_first_up_to_a_limit() -> None:
    every_minute = parse_schedule("* * * * *")
    times = next_schedule_times(every_minute, at("2024-05-01T10:00"), at("2024-05-01T10:03"), 10)
    assert times == [at("2024-05-01T10:01"), at("2024-05-01T10:02"), at("2024-05-01T10:03")]
    many = next_schedule_times(every_minute, at("2024-05-01T00:00"), at("2024-06-01T00:00"), 101)
    assert len(many) == 101


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("", "expected 5 fields"),
        ("60 * * * *", 'minute field "60": 60 is out of range 0-59'),
        ("* 24 * * *", "hour field"),
        ("* * 0 * *", 'day of month field "0": 0 is out of range 1-31'),
        ("* * * 13 *", "month field"),
        ("* * * * 8", "day of week field"),
        ("*/0 * * * *", "step must be a positive number"),
        ("5-1 * * * *", "range 5-1 starts after it ends"),
        ("* * * FOO *", "'FOO' is not a number or a name"),
        ("MON * * * *", "'MON' is not a number"),
        ("1,,2 * * * *", "is not a number"),
        ("@fortnightly", 'unknown descriptor "@fortnightly"'),
        ("CRON_TZ=Europe/Paris 0 * * * *", 'time zone "Europe/Paris" is not supported'),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronSyntaxError) as info:
        parse_schedule(expr)
    assert message in str(info.value)


def test_time_zone_field_accepts_utc_only() -> None:
    assert parse_schedule("0 * * * *", "Etc/UTC").minutes == frozenset({0})
    with pytest.raises(CronSyntaxError, match="America/New_York"):
        parse_schedule("0 * * * *", "America/New_York")
