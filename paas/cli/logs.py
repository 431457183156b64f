"""How every component process logs: one line per record, its name on each.

HTTP client libraries log every request at INFO; a node agent or a
controller-manager makes hundreds a second, so they are held to WARNING.
"""

from __future__ import annotations

import logging

QUIET = ("httpx", "httpcore", "aiohttp.access", "uvicorn.access")


def setup_logging(component: str, level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=f"%(asctime)s {component} %(levelname)s %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
