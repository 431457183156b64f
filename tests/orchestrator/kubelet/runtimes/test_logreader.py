"""Reading CRI log files as kubectl logs shows them: rotation, tail, since, timestamps, follow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from support.wait import eventually

from orchestrator.kubelet.logformat import format_entry
from orchestrator.kubelet.logreader import log_files, read_log
from orchestrator.kubelet.runtimes.base import LogOptions


def stamp(second: int) -> str:
    return f"2026-01-02T03:04:{second:02d}.123456789Z"


def write(path: Path, *entries: tuple[int, str, str], partial: bool = False) -> None:
    with path.open("ab") as f:
        for second, stream, text in entries:
            f.write(format_entry(stream, text.encode(), partial=partial, stamp=stamp(second)))


async def collect(path: Path, options: LogOptions, running=lambda: False) -> list[bytes]:
    return [line async for line in read_log(path, options, running=running, poll_interval=0.01)]


async def test_rotated_files_are_read_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    write(tmp_path / "container.log.2", (1, "stdout", "one"))
    write(tmp_path / "container.log.1", (2, "stdout", "two"))
    write(log, (3, "stderr", "three"))
    assert [p.name for p in log_files(log)] == ["container.log.2", "container.log.1", log.name]
    assert await collect(log, LogOptions()) == [b"one\n", b"two\n", b"three\n"]


async def test_tail_since_timestamps_and_limit(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    write(tmp_path / "container.log.1", (1, "stdout", "a"), (2, "stdout", "b"))
    write(log, (3, "stdout", "c"), (4, "stdout", "d"))
    assert await collect(log, LogOptions(tail_lines=3)) == [b"b\n", b"c\n", b"d\n"]
    assert await collect(log, LogOptions(tail_lines=0)) == []
    since = datetime(2026, 1, 2, 3, 4, 3, tzinfo=UTC)
    assert await collect(log, LogOptions(since=since)) == [b"c\n", b"d\n"]
    assert await collect(log, LogOptions(tail_lines=1, timestamps=True)) == [
        stamp(4).encode() + b" d\n"
    ]
    assert b"".join(await collect(log, LogOptions(limit_bytes=5))) == b"a\nb\nc"


async def test_partial_entries_make_one_line(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    write(log, (1, "stdout", "hel"), partial=True)
    write(log, (1, "stderr", "err"))
    write(log, (1, "stdout", "lo"))
    assert await collect(log, LogOptions()) == [b"err\n", b"hello\n"]


async def test_follow_sees_new_lines_and_a_rotation_then_ends_with_the_container(
    tmp_path: Path,
) -> None:
    log = tmp_path / "container.log"
    write(log, (1, "stdout", "first"))
    running = True
    seen: list[bytes] = []

    async def follow() -> None:
        options = LogOptions(follow=True)
        async for line in read_log(log, options, running=lambda: running, poll_interval=0.01):
            seen.append(line)

    task = asyncio.create_task(follow())
    await eventually(lambda: seen == [b"first\n"])
    write(log, (2, "stdout", "second"))
    await eventually(lambda: seen[-1:] == [b"second\n"])
    log.rename(tmp_path / "container.log.1")  # rotation: the writer goes on in a new file
    write(log, (3, "stdout", "third"))
    await eventually(lambda: seen[-1:] == [b"third\n"])
    write(log, (4, "stdout", "last words"))
    running = False
    await asyncio.wait_for(task, 5)
    assert seen == [b"first\n", b"second\n", b"third\n", b"last words\n"]


async def test_follow_of_a_file_not_yet_written(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    running = True
    seen: list[bytes] = []

    async def follow() -> None:
        options = LogOptions(follow=True)
        async for line in read_log(log, options, running=lambda: running, poll_interval=0.01):
            seen.append(line)

    task = asyncio.create_task(follow())
    write(log, (1, "stdout", "hello"))
    await eventually(lambda: seen == [b"hello\n"])
    running = False
    await asyncio.wait_for(task, 5)
