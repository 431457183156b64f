"""``paas up`` gives its API server an encryption configuration made once, 0600, in the data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from orchestrator.apiserver.encryption.config import load_config
from paas.up.components import UpComponents
from paas.up.settings import UpSettings


def apiserver_argv(data_dir: Path) -> list[str]:
    pair = SimpleNamespace(cert=data_dir / "c.crt", key=data_dir / "c.key")
    credentials = SimpleNamespace(serving=pair, kubelet_client=pair, tokens_file=data_dir / "t")
    components = UpComponents(UpSettings(data_dir=data_dir), cast(Any, credentials))
    return components._apiserver_argv()


def test_up_passes_an_encryption_config_made_on_first_start_and_kept_after(tmp_path):
    argv = apiserver_argv(tmp_path)
    path = Path(argv[argv.index("--encryption-provider-config") + 1])
    assert path == tmp_path / "encryption.yaml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_bytes()
    assert [p for p, _ in load_config(path).by_prefix()] == ["/registry/core/secrets/"]
    apiserver_argv(tmp_path)  # a restart keeps the key: a new one would lose every Secret
    assert path.read_bytes() == first
