"""Bearer-token authentication: the one place a request's identity is decided.

Tokens live hashed (SHA-256) in a JSON file in the data dir, so reading the
file does not reveal them:

    {"tokens": [{"sha256": "<hex>", "user": "admin", "role": "admin"}, ...]}

The file is re-read when its modification time changes, so ``paas token
create`` takes effect without a restart. Roles are recorded now and enforced
by the authorization issue later; today any valid token may do anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

ANONYMOUS_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/openapi/v2"})
ROLES = ("admin", "node")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str


# The groups a user is in, by role (RBAC's groups come later): admission webhooks and
# TokenReview answers name them.
GROUPS = {
    "admin": ("system:masters", "system:authenticated"),
    "node": ("system:nodes", "system:authenticated"),
}


def groups_of(user: User) -> tuple[str, ...]:
    return GROUPS.get(user.role, ("system:authenticated",))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    # Hex: never starts with "-" (which a command line would take for a flag), and needs no
    # quoting in a shell or a YAML file.
    return secrets.token_hex(32)


def add_token(path: Path, *, user: str, role: str, token: str | None = None) -> str:
    """Record a new token (hashed) in the file at ``path``; returns the plain token."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token = token or new_token()
    data: dict[str, list[dict[str, str]]] = {"tokens": []}
    if path.exists():
        data = json.loads(path.read_text())
    data["tokens"].append({"sha256": hash_token(token), "user": user, "role": role})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return token


class TokenAuthenticator:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._mtime = -1.0
        self._next_check = 0.0
        self._users: dict[str, User] = {}

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
        self._users = {t["sha256"]: User(t["user"], t["role"]) for t in data.get("tokens", [])}
        self._mtime = mtime

    def authenticate(self, authorization: str | None) -> User | None:
        """The user a ``Authorization: Bearer ...`` header names, or None."""
        if self._path is None:
            return User("anonymous-admin", "admin")  # authentication switched off
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        self._reload()
        # Looking up a hash leaks nothing useful through timing: the hash is not the secret.
        digest = hash_token(authorization[7:].strip())
        user = self._users.get(digest)
        if user is None:
            # A token made a moment ago (``paas token create``, a node joining right after
            # ``paas up`` wrote its token) works at once: an unknown one costs a stat.
            self._reload(at_once=True)
            user = self._users.get(digest)
        return user

    @staticmethod
    def is_anonymous(path: str) -> bool:
        return path.rstrip("/") in ANONYMOUS_PATHS or path.startswith("/readyz/")
