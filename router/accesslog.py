"""One access-log line per request, on logger ``router.access``.

``peer host "METHOD target HTTP/v" status bytes duration upstream``: the
bytes are the body sent to the client, the duration runs from the request's
headers to its last byte answered, ``upstream`` is the pod's ``ip:port`` or
``-`` when the router answered itself. A request whose client left before
its answer was complete is logged with status 499, as nginx does.
"""

from __future__ import annotations

import logging
import time

access_log = logging.getLogger("router.access")


def log_request(
    peer: str,
    host: str,
    method: str,
    target: bytes,
    version: str,
    status: int,
    sent: int,
    started: float,
    upstream: str,
) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    access_log.info(
        '%s %s "%s %s HTTP/%s" %d %d %.1fms %s',
        peer,
        host or "-",
        method,
        target.decode("latin-1"),
        version,
        status,
        sent,
        (time.monotonic() - started) * 1000,
        upstream,
    )
