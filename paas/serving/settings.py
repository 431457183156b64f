"""The serving controller's settings, filled by ``paas serving-controller``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServingSettings:
    domain: str = "localhost"  # Knative hosts are <service>.<namespace>.<domain> (DESIGN.md)
    http_port: int = 8080  # the router's port, in the URLs of Route and Service status
    # Seconds between readiness probes when the user gave no period: Knative's queue-proxy
    # probes every 50 ms until the first success; a second is the finest the kubelet takes.
    readiness_period: int = 1
    progress_deadline: int = 600  # cfg-deployment progress-deadline, unless annotated
    # Seconds a pod being removed keeps serving (a preStop sleep) while its endpoint leaves the
    # routers: Knative's queue-proxy drains the same way; without it a scale-down loses requests.
    drain_seconds: int = 3
    crash_restarts: int = 2  # restarts of a pod that mean the revision's container crashes
    resync: float = 30.0  # seconds between passes over an object no event touched
