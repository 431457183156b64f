"""The App controller's settings: one frozen dataclass, filled by ``paas app-controller``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppControllerSettings:
    domain: str = "localhost"  # branches are served at <app>.<domain> (DESIGN.md "Names")
    http_port: int = 8080  # the router's port, for the URLs in App status
    container_port: int = 5000  # Dokku's port for buildpack apps; PORT tells the app anyway
    # Seconds a new revision may go without becoming ready before its deploy fails
    # (Knative's default is 600; a slug boots in about a second, and a push waits on this).
    progress_deadline: int = 120
    release_timeout: int = 600  # a release command's limit (Heroku's is an hour; migrations)
    readiness_period: int = 1  # seconds between readiness probes: a new pod takes traffic fast
    resync: float = 30.0  # seconds between passes over an App that no event touched
    # Seconds between reads of a branch's HTTPRoute while its old Deployment waits for the
    # router to accept the route (HTTPRoutes are the router's kind: no informer watches them).
    route_poll: float = 1.0
