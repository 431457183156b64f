"""A blocking stream (an SDK's log or event iterator) read in a thread of its own, awaited from
asyncio.

Long streams (``logs --follow`` may last hours) must not sit in a shared
executor: a handful of followers would starve every other engine call. So
each stream gets its own daemon thread, which hands items to the event loop
through ``call_soon_threadsafe``. At most ``window`` items are in flight: the
thread waits for the consumer to take one before it reads more, so a slow
reader keeps memory bounded and slows the engine's stream instead.

When the consumer stops early (``break``, cancellation, a closed HTTP
response), the iterator's own ``close()`` (the Docker SDK's
``CancellableStream.close`` shuts its socket) is called from the loop to cut
the blocking read short, and the thread ends at its next step; an iterator
opened after the consumer left is closed at once. An exception in the thread
is raised in the consumer. A ThreadStream is iterated once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class ThreadStream(Generic[T]):
    """``async for item in ThreadStream(open_)``: ``open_()`` runs in the thread."""

    def __init__(
        self, open_: Callable[[], Iterable[T]], *, window: int = 64, name: str = "paas-stream"
    ) -> None:
        self._open = open_
        self._opened: Iterable[T] | None = None
        self._lock = threading.Lock()
        self._credits = threading.Semaphore(window)
        self._stop = threading.Event()
        self._name = name

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def deliver(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                self._stop.set()

        def pump() -> None:
            try:
                stream = self._open()
                with self._lock:
                    self._opened = stream
                if self._stop.is_set():
                    self._close_opened()
                    return
                for item in stream:
                    while not self._credits.acquire(timeout=0.5):
                        if self._stop.is_set():
                            return
                    if self._stop.is_set():
                        return
                    deliver(item)
            except BaseException as exc:  # handed to the consumer, who decides
                if not self._stop.is_set():
                    deliver(_Failure(exc))
                    return
            deliver(_END)

        thread = threading.Thread(target=pump, name=self._name, daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                self._credits.release()
                yield item  # type: ignore[misc]
        finally:
            self._stop.set()
            self._close_opened()

    def _close_opened(self) -> None:
        with self._lock:
            stream, self._opened = self._opened, None
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a stream that is already gone
                pass
