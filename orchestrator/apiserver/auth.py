"""Bearer-token authentication: the one place a request's identity is decided.

Tokens live hashed (SHA-256) in a JSON file in the data dir, so reading the
file does not reveal them. Each row names the user the token authenticates
as, like a row of Kubernetes' static token file (``token,user,uid,groups``)::

    {"tokens": [{"sha256": "<hex>", "user": "alice", "uid": "", "groups": ["team-a"]}]}

Rows written before users had groups carry a ``role`` instead (``admin`` is
``system:masters``, ``node`` is ``system:nodes``) and still work. Every
authenticated user is also in ``system:authenticated``.

The file is re-read when its modification time changes, so ``paas token
create`` takes effect without a restart. It is created 0600 from its first
byte (``pki.write_private``: a new file opened with that mode, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.apiserver.identity import AUTHENTICATED, MASTERS, NODES, UserInfo
from orchestrator.pki import write_private

ANONYMOUS_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/openapi/v2"})

# The groups of rows written with a role, before tokens named groups themselves.
LEGACY_ROLE_GROUPS = {"admin": (MASTERS,), "node": (NODES,)}

# Who the API server is when authentication is switched off (tests of the HTTP layer only).
UNAUTHENTICATED_ADMIN = UserInfo("system:admin", groups=(MASTERS, AUTHENTICATED))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    # Hex: never starts with "-" (which a command line would take for a flag), and needs no
    # quoting in a shell or a YAML file.
    return secrets.token_hex(32)


def add_token(
    path: Path,
    *,
    user: str,
    groups: Sequence[str] = (),
    uid: str = "",
    token: str | None = None,
) -> str:
    """Record a new token (hashed) for ``user`` in ``groups``; returns the plain token."""
    if not user:
        raise ValueError("a token needs a user name")
    token = token or new_token()
    data: dict[str, list[dict[str, Any]]] = {"tokens": []}
    if path.exists():
        data = json.loads(path.read_text())
    row = {"sha256": hash_token(token), "user": user, "uid": uid, "groups": list(groups)}
    data["tokens"].append(row)
    write_private(path, json.dumps(data, indent=2))
    return token


def user_of_row(row: dict[str, Any]) -> UserInfo:
    groups: Sequence[Any] = row.get("groups") or ()
    if "groups" not in row:
        groups = LEGACY_ROLE_GROUPS.get(str(row.get("role", "")), ())
    user = UserInfo(str(row["user"]), str(row.get("uid") or ""), tuple(map(str, groups)))
    return user.with_authenticated()


class TokenAuthenticator:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._mtime = -1.0
        self._next_check = 0.0
        self._users: dict[str, UserInfo] = {}

    def _reload(self, at_once: bool = False) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now < self._next_check and not at_once:  # one stat a second, not one per request
            return
        self._next_check = now + 1.0
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            self._users = {}
            return
        if mtime == self._mtime:
            return
        data = json.loads(self._path.read_text())
        self._users = {t["sha256"]: user_of_row(t) for t in data.get("tokens", [])}
        self._mtime = mtime

    @property
    def enabled(self) -> bool:
        return self._path is not None

    def authenticate_token(self, token: str) -> UserInfo | None:
        """The user a bearer token names, or None."""
        self._reload()
        # Looking up a hash leaks nothing useful through timing: the hash is not the secret.
        digest = hash_token(token)
        user = self._users.get(digest)
        if user is None:
            # A token made a moment ago (``paas token create``, a node joining right after
            # ``paas up`` wrote its token) works at once: an unknown one costs a stat.
            self._reload(at_once=True)
            user = self._users.get(digest)
        return user

    def authenticate(self, authorization: str | None) -> UserInfo | None:
        """The user a ``Authorization: Bearer ...`` header names, or None."""
        if self._path is None:
            return UNAUTHENTICATED_ADMIN  # authentication switched off
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        return self.authenticate_token(authorization[7:].strip())

    @staticmethod
    def is_anonymous(path: str) -> bool:
        return path.rstrip("/") in ANONYMOUS_PATHS or path.startswith("/readyz/")
