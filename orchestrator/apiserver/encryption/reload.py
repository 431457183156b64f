"""Picking up a changed encryption configuration without a restart.

Kubernetes' ``--encryption-provider-config-automatic-reload``: the API server
reads the file again every ``interval`` seconds and, when its bytes changed
and the new configuration is valid, the store uses it from the next read or
write (``EncryptedStore.reconfigure``). A file that does not parse or does
not check keeps the configuration in force: the error is logged with every
bad field, and ``apiserver_encryption_config_controller_automatic_reloads_total``
counts each attempt by ``status`` (``success`` or ``failure``), as Kubernetes'.

With the rewrite pass on (``rewrite.py``), each reload is followed by it, so
a key rotation needs no ``kubectl replace`` and no restart:

1. add the new key second (every server can read with it), wait a reload;
2. move it first: new writes use it, the pass re-seals what was written before;
3. once the pass is done (its log line), remove the old key.

Polling rather than inotify: the file may be a symlink swapped by a config
tool or a mounted volume, which inotify on the old inode would miss, and a
stat plus a digest every few seconds costs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.apiserver.encryption.config import EncryptionConfigError, load_config
from orchestrator.apiserver.encryption.store import EncryptedStore
from orchestrator.apiserver.metrics import ENCRYPTION_CONFIG_RELOADS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadSettings:
    enabled: bool = False  # Kubernetes' default; `paas up` turns it on
    interval: float = 10.0  # seconds between looks at the file


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc}"


class ConfigReloader:
    def __init__(
        self,
        store: EncryptedStore,
        path: Path,
        settings: ReloadSettings,
        reloaded: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.path = path
        self.settings = settings
        self._reloaded = reloaded  # the server's rewrite pass
        self._seen = _digest(path)  # what the server started with

    def check(self) -> bool:
        """Load the file if it changed since the last look; True when a new one took effect."""
        seen = _digest(self.path)
        if seen == self._seen:
            return False
        self._seen = seen  # a broken file is reported once, not every interval
        try:
            config = load_config(self.path)
        except EncryptionConfigError as exc:
            ENCRYPTION_CONFIG_RELOADS.labels("failure").inc()
            log.error("encryption configuration not reloaded, the previous one stays: %s", exc)
            return False
        self.store.reconfigure(config)
        ENCRYPTION_CONFIG_RELOADS.labels("success").inc()
        log.info("encryption configuration reloaded from %s", self.path)
        self._reloaded()
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval)
            self.check()
