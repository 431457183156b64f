"""How long a request may take: Kubernetes' request deadline and timeout filter.

Every request that is not long-running (watches, followed logs, exec,
attach, port-forward and proxy are; ``inflight.is_long_running``) gets a
deadline when it arrives: the ``timeout`` query parameter when it is a Go
duration between 0 and the server's maximum (kubectl sends it for
``--request-timeout``), else the maximum (``paas apiserver
--request-timeout``, 60 s as in Kubernetes). A ``timeout`` that is not a
duration is a 400 ``invalid timeout specified in the request URL``.

What waits on others inside the request stops at the deadline
(``remaining()``): an admission webhook's call is bounded by the smaller of
its ``timeoutSeconds`` and what is left, and fails as Kubernetes' does
(``failed calling webhook ... context deadline exceeded``; under
``failurePolicy: Fail`` nothing is written), and that answer reaches the
client. Whatever has not answered ``GRACE`` after the deadline gets
Kubernetes' 504, ``Timeout: request did not complete within requested
timeout - context deadline exceeded``, and the client has its answer
then. Work that does not wait on anything (a store write under way) is not
cut off: it finishes behind the 504 and is logged ("post-timeout activity",
as Kubernetes' timeout filter says), so a write the store accepted is never
half done; a client that got a 504 reads again to learn the outcome, as with
Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orchestrator.api import errors
from orchestrator.api.timestamps import parse_duration
from orchestrator.apiserver.wire import error_response

log = logging.getLogger(__name__)

DEFAULT_SECONDS = 60.0  # Kubernetes' --request-timeout
# What the work gets past its deadline to answer for itself: what waits stops at the deadline
# (a webhook's call fails as "context deadline exceeded"), and that answer says more than a 504;
# half a second, so that a busy event loop still gives it rather than the 504.
GRACE = 0.5
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "paas_request_deadline", default=None
)


def request_timeout(query_string: bytes, maximum: float) -> float:
    """The request's time allowed: its ``timeout`` if in (0, maximum), else ``maximum``."""
    if b"timeout=" not in query_string:
        return maximum
    given = next(
        (
            v
            for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
            if k == "timeout"
        ),
        None,
    )
    if not given:
        return maximum
    try:
        seconds = parse_duration(given)
    except ValueError:
        raise errors.BadRequest("invalid timeout specified in the request URL") from None
    return seconds if 0 < seconds < maximum else maximum


def remaining() -> float | None:
    """Seconds left before the current request's deadline (None outside a request with one)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return None
    return deadline - asyncio.get_running_loop().time()


def timed_out() -> errors.Timeout:
    return errors.Timeout(
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    )


async def within(
    work: Awaitable[Response], seconds: float, scope: Scope, receive: Receive, send: Send
) -> Response | None:
    """``work``'s response to send; None once the 504 was sent for it (``work`` then finished).

    The work runs in the request's own task (no task per request: this is on every
    request's path); a timer sends the 504 from a task of its own if the work has not
    answered by then, and the work's late response is dropped.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    token = _DEADLINE.set(started + seconds)
    expired: list[asyncio.Task[None]] = []

    def expire() -> None:
        expired.append(asyncio.ensure_future(error_response(timed_out())(scope, receive, send)))

    timer = loop.call_at(started + seconds + GRACE, expire)
    try:
        response = await work
    finally:
        timer.cancel()
        _DEADLINE.reset(token)
    if not expired:
        return response
    try:
        await expired[0]
    except Exception:  # the client went away meanwhile: nothing more to tell it
        log.debug("sending a 504 failed", exc_info=True)
    log.warning(
        "post-timeout activity - time-elapsed: %.3fs, %s %r result: status %d",
        loop.time() - started,
        scope.get("method", ""),
        scope.get("path", ""),
        response.status_code,
    )
    if response.background is not None:  # what the unsent response would have closed
        await response.background()
    return None
