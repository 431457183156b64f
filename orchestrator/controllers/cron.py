"""Five-field cron schedules: parsing, and the times they name.

``parse_schedule("*/5 9-17 * * MON-FRI")`` returns a ``Schedule`` of five
frozen sets (minute, hour, day of month, month, day of week), or raises
``CronSyntaxError`` naming the field and what is wrong with it. The syntax
is the standard one Kubernetes accepts: ``*`` and ``?``, numbers, ranges
``a-b``, steps ``*/n``, ``a-b/n`` and ``a/n`` (from ``a`` to the field's
end), comma lists, month names JAN-DEC and day names SUN-SAT (any case; 7
is Sunday too), and the descriptors @yearly/@annually, @monthly, @weekly,
@daily/@midnight and @hourly (``@every <duration>`` is not supported).

Day of month and day of week combine as in Vixie cron: when both are
restricted a day matches if EITHER does ("0 0 13 * FRI" runs on every 13th
and every Friday); when one of them starts with ``*`` or ``?`` only the other
one counts.

Times are UTC: a ``CRON_TZ=``/``TZ=`` prefix is accepted only for UTC
(time zones are later work), anything else is refused by name.

``Schedule.next_after(t)`` and ``Schedule.latest_at_or_before(t)`` walk field
by field (month, day, hour, minute), so a yearly schedule is found in a few
hundred steps, not half a million minutes. A schedule that can never fire
("0 0 30 FEB *") answers ``None`` after ``SEARCH_YEARS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SEARCH_YEARS = 10  # Feb 29 on a given weekday recurs within this; past it there is none
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z", "UCT", "Etc/UCT", "Etc/Zulu"})

MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
DAY_NAMES = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronSyntaxError(ValueError):
    """A schedule that is not valid cron; the message names the field and the reason."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES),
    _Field("day of week", 0, 7, DAY_NAMES),  # 7 is folded into 0 (Sunday)
)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_star: bool  # day of month given as * or ?: only the day of week counts
    weekdays_star: bool

    def matches_day(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def matches(self, t: datetime) -> bool:
        return (
            t.month in self.months
            and self.matches_day(t)
            and t.hour in self.hours
            and t.minute in self.minutes
        )

    def next_after(self, t: datetime) -> datetime | None:
        """The first scheduled time strictly after ``t`` (UTC, whole minutes)."""
        t = _utc(t).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = _first_of_next_month(t)
            elif not self.matches_day(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        return None

    def latest_at_or_before(self, t: datetime) -> datetime | None:
        """The last scheduled time at or before ``t`` (UTC, whole minutes)."""
        t = _utc(t).replace(second=0, microsecond=0)
        limit = t.year - SEARCH_YEARS
        while t.year >= limit:
            if t.month not in self.months:
                t = t.replace(day=1, hour=0, minute=0) - timedelta(minutes=1)
            elif not self.matches_day(t):
                t = t.replace(hour=0, minute=0) - timedelta(minutes=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) - timedelta(minutes=1)
            elif t.minute not in self.minutes:
                t -= timedelta(minutes=1)
            else:
                return t
        return None


def parse_schedule(expr: str, time_zone: str | None = None) -> Schedule:
    """Parse a five-field cron expression (or a descriptor); raises ``CronSyntaxError``."""
    text = " ".join(expr.split())
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        _check_zone(zone.partition("=")[2])
    if time_zone is not None:
        _check_zone(time_zone)
    if text.startswith("@"):
        if text.lower() not in DESCRIPTORS:
            raise CronSyntaxError(
                f'unknown descriptor "{text}" (use one of {", ".join(sorted(DESCRIPTORS))})'
            )
        text = DESCRIPTORS[text.lower()]
    parts = text.split(" ")
    if len(parts) != 5 or not text:
        raise CronSyntaxError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
            f' in "{expr}"'
        )
    values = [_parse_field(part, spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in values[4])
    return Schedule(
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        days_star=parts[2].startswith(("*", "?")),
        weekdays_star=parts[4].startswith(("*", "?")),
    )


def next_schedule_times(
    schedule: Schedule, after: datetime, now: datetime, limit: int
) -> list[datetime]:
    """Scheduled times in ``(after, now]``, oldest first, at most ``limit`` of them."""
    out: list[datetime] = []
    t = schedule.next_after(after)
    while t is not None and t <= now and len(out) < limit:
        out.append(t)
        t = schedule.next_after(t)
    return out


def _check_zone(zone: str) -> None:
    if zone not in UTC_NAMES:
        raise CronSyntaxError(f'time zone "{zone}" is not supported: schedules run in UTC for now')


def _parse_field(text: str, spec: _Field) -> frozenset[int]:
    if not text:
        raise CronSyntaxError(f"{spec.name} field is empty")
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, spec, text))
    return frozenset(values)


def _parse_item(item: str, spec: _Field, whole: str) -> range:
    where = f'{spec.name} field "{whole}"'
    body, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text, spec, where, allow_names=False)
        if step <= 0:
            raise CronSyntaxError(f"{where}: step must be a positive number, not {step_text!r}")
    if body in ("*", "?"):
        low, high = spec.low, spec.high
    elif "-" in body:
        first, _, last = body.partition("-")
        low = _number(first, spec, where)
        high = _number(last, spec, where)
        if low > high:
            raise CronSyntaxError(f"{where}: range {body} starts after it ends")
    else:
        low = _number(body, spec, where)
        high = spec.high if slash else low
    for value in (low, high):
        if not spec.low <= value <= spec.high:
            raise CronSyntaxError(f"{where}: {value} is out of range {spec.low}-{spec.high}")
    return range(low, high + 1, step)


def _number(text: str, spec: _Field, where: str, allow_names: bool = True) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    if allow_names and spec.names and text.upper() in spec.names:
        return spec.names[text.upper()]
    raise CronSyntaxError(
        f"{where}: {text!r} is not a number" + (" or a name" if allow_names and spec.names else "")
    )


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _first_of_next_month(t: datetime) -> datetime:
    if t.month == 12:
        return t.replace(year=t.year + 1, month=1, day=1, hour=0, minute=0)
    return t.replace(month=t.month + 1, day=1, hour=0, minute=0)
