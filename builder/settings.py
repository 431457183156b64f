"""The builder's settings: one frozen dataclass, filled by ``paas builder`` from its flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuilderSettings:
    data_dir: Path  # repositories, build logs, work trees and slugs live under it
    host: str = "127.0.0.1"  # loopback: the router is what the outside reaches
    port: int = 0  # 0 picks a free one; `paas up` keeps it across restarts
    public_url: str = ""  # how pushers and nodes reach the builder ("" = its bound address)
    domain: str = "localhost"  # app hosts are <app>.<domain> (DESIGN.md)
    http_port: int = 8080  # the router's port, for the URL a push ends with
    realm: str = "paas"  # the Basic realm git shows no one, but must receive to send a token
    # What builds a source tree: "module:function" or "path/to/file.py:function", called as
    # function(source_dir, out, context) in a child process (builder.buildrun).
    build_function: str = "builder.pushbuild:build"
    build_timeout: float = 900.0  # a pip install of a large app takes minutes; forever is a bug
    build_memory: int = 2 << 30  # bytes per build's process tree; pip and npm peak under 300 MiB
    # False where every node runs the process runtime, which runs slugs only: a Dockerfile is
    # refused saying so, rather than built into an image that no node can run.
    dockerfile_builds: bool = True
    # host:port of the image registry Dockerfile images are pushed to, for every node to pull
    # ("": the image stays on the engine that built it, enough for a single node).
    registry: str = ""
    cancel_grace: float = 3.0  # SIGTERM, then SIGKILL after this long
    # A push waits this long for its deploy (release, rollout) after the build: more than the
    # App controller's release timeout plus its progress deadline, so they fail first.
    deploy_timeout: float = 900.0
    auth_cache_seconds: float = 10.0  # a push is 3-4 requests: one TokenReview, not four
    git: str = "git"  # the git binary (its http-backend speaks the protocol)

    @property
    def repos(self) -> Path:
        return self.data_dir / "repos"

    @property
    def build_logs(self) -> Path:
        return self.data_dir / "logs" / "builds"

    @property
    def work(self) -> Path:
        """Exported trees of builds in progress and spooled request bodies."""
        return self.data_dir / "work"
