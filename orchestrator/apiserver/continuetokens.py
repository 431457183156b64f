"""List ``continue`` tokens, in Kubernetes' shape, and the errors around them.

A token is unpadded URL-safe base64 of ``{"v": "meta.k8s.io/v1", "rv": R,
"start": S}``: ``R`` is the revision of the list's first page, so every later
page reads the store as of R (objects created or deleted since do not move
the pages), and ``S`` is the next key to read relative to the list's storage
prefix, the last key returned plus ``"\\x00"``. A key relative to the prefix
keeps a token from reaching outside the collection it was made for.

When R has been compacted the list cannot go on consistently: Kubernetes
answers 410 ``Expired`` with a new token whose ``rv`` is -1, which continues
from the same key at the latest revision for a client that accepts an
inconsistent list (``expired``). A token whose own ``rv`` is -1 reads the
latest revision.
"""

from __future__ import annotations

import base64
import binascii
import json

from orchestrator.api import errors

_VERSION = "meta.k8s.io/v1"
LATEST = -1  # a token's rv: continue at the latest revision

EXPIRED_LIST = "The resourceVersion for the provided list is too old."
_INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def encode(last_key: str, prefix: str, revision: int) -> str:
    """The token that continues after ``last_key`` at ``revision``."""
    doc = {"v": _VERSION, "rv": revision, "start": last_key.removeprefix(prefix) + "\x00"}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, prefix: str) -> tuple[str, int]:
    """(the key to read after, the revision to read at: 0 = latest) of a token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("v") != _VERSION:
            raise ValueError(f"continue key is not a {_VERSION} token")
        start, revision = doc.get("start"), doc.get("rv")
        if not isinstance(start, str) or not start or not isinstance(revision, int):
            raise ValueError("continue key is not valid")
        if revision == 0 or revision < LATEST:
            raise ValueError("continue key is not valid: incorrect encoded start resourceVersion")
        start.encode()  # a lone surrogate (UnicodeEncodeError, a ValueError) is no key
        if start.startswith("/") or ".." in start.split("/"):
            raise ValueError("continue key is not valid: path traversal attempt")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"invalid continue token: {exc}") from None
    key = prefix + start
    # Keys are read strictly after ``start_after``: the trailing NUL says exactly that.
    start_after = key[:-1] if key.endswith("\x00") else key
    return start_after, 0 if revision == LATEST else revision


def expired(start_after: str, prefix: str) -> errors.Gone:
    """410 for a token whose revision is compacted, carrying a token to go on regardless."""
    fresh = encode(start_after, prefix, LATEST)
    return errors.Gone(_INCONSISTENT_CONTINUE, metadata={"continue": fresh})
