"""The one error a build ends with: what the pusher is told.

``BuildFailed``'s message is shown as is at the end of the push (``remote:
 ! <message>``), so it says what was wrong and what to do next. Third-party
failures (pip, npm, docker, tar) are wrapped into it once, where they are
run; nothing else crosses the builder's boundary.
"""

from __future__ import annotations


class BuildFailed(Exception):
    """The build did not produce a slug or an image; ``str(exc)`` is the reason."""


class BuildCancelled(BuildFailed):
    """The build was stopped from outside (a newer push of the same branch)."""
