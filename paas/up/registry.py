"""The image registry ``paas up`` runs for Dockerfile builds: its config file and its address.

Debian's ``docker-registry`` (distribution 2.8) is run as
``docker-registry serve DATA_DIR/registry/config.yml``, a file written here
before every start, so that the port, the storage directory and the log
settings are ours and never the package's ``/etc/docker/registry``
(which listens on every address with htpasswd auth).

It listens on 127.0.0.1 only, whatever ``--host`` says: Docker engines
trust registries in 127.0.0.0/8 over plain HTTP by default, so no engine
needs a TLS certificate or an ``insecure-registries`` entry, and nothing
outside this machine can push. It has no authentication: on loopback, the
machine's users are the platform's. Images live under
``DATA_DIR/registry/storage`` and survive restarts; deletes are enabled so
that a later garbage collection can reclaim old images.

The port is ``--registry-port`` (5000, distribution's own default), or a
free one for 0, picked once and kept across restarts of the component:
pushed image references name it, so it must not move while the platform
runs.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HOST = "127.0.0.1"  # the engines' default trust for plain HTTP: 127.0.0.0/8


@dataclass(frozen=True)
class RegistryFiles:
    root: Path  # DATA_DIR/registry

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def storage(self) -> Path:
        return self.root / "storage"


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the registry cannot report one it chose itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def registry_config(address: str, storage: Path) -> dict[str, Any]:
    """distribution's configuration (version 0.1) for a loopback registry at ``address``."""
    return {
        "version": 0.1,
        "log": {
            "level": "info",
            "accesslog": {"disabled": True},  # every layer is a request: the log is for errors
            "fields": {"service": "registry"},
        },
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {"addr": address, "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }


def write_config(files: RegistryFiles, address: str) -> Path:
    """Write the config for ``address`` (HOST:PORT) and make the storage directory."""
    files.storage.mkdir(parents=True, exist_ok=True)
    tmp = files.config.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(registry_config(address, files.storage), sort_keys=False))
    tmp.replace(files.config)
    return files.config
