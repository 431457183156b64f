"""API objects as code holds them: plain JSON dicts.

An object stays the dict that was decoded from the wire, from the API server
through the client and every controller, so that each field a client sent
round-trips, including fields no code here knows. ``Obj`` is the one name
for such a dict, and for any JSON object inside one (a spec, a container, a
patch).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
