"""The App controller's settings: one frozen dataclass, filled by ``paas app-controller``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppControllerSettings:
    domain: str = "localhost"  # branches are served at <app>.<domain> (DESIGN.md "Names")
    http_port: int = 8080  # the router's port, for the URLs in App status
    ingress_class: str = "paas"  # the router's class (router.ingresscontroller)
    container_port: int = 5000  # Dokku's port for buildpack apps; PORT tells the app anyway
    service_port: int = 80  # the ClusterIP Service's port in front of it
    # Seconds a rollout may go without progress before its deploy fails (Kubernetes' default
    # is 600; a slug boots in about a second, and a push waits on this).
    progress_deadline: int = 120
    release_timeout: int = 600  # a release command's limit (Heroku's is an hour; migrations)
    crash_restarts: int = 2  # restarts of a new pod that mean it crash-loops: fail the deploy
    # An old pod keeps serving this long after it is told to stop, while its endpoint's
    # removal reaches the router (Kubernetes' advice; one watch hop takes milliseconds here).
    prestop_seconds: int = 2
    termination_grace: int = 10  # seconds from SIGTERM to SIGKILL, preStop included
    readiness_period: int = 1  # seconds between readiness probes: a new pod takes traffic fast
    resync: float = 30.0  # seconds between passes over an App that no event touched
