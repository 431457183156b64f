"""Which repository a git URL names: ``/<app>.git/...`` or ``/<namespace>/<app>.git/...``.

``<git>/<app>.git`` is namespace ``default``; ``<git>/<ns>/<app>.git`` is
``<ns>``. Only the smart-HTTP endpoints are served: ``info/refs`` (with a
``service`` query) and the two ``git-*-pack`` POSTs. Anything else, a path
with ``..`` (http-backend would refuse it too, but with a 500), or a name
that cannot be an App, is a 4xx with a line the pusher can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.names import DEFAULT_NAMESPACE, InvalidName, check_app_name, check_namespace

SERVICES = ("git-receive-pack", "git-upload-pack")
ENDPOINTS = ("info/refs", *SERVICES)


class BadPath(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitTarget:
    namespace: str
    app: str
    endpoint: str  # info/refs, git-receive-pack or git-upload-pack
    service: str  # git-receive-pack or git-upload-pack

    @property
    def pushes(self) -> bool:
        return self.service == "git-receive-pack"

    @property
    def path_info(self) -> str:
        """The path inside the repositories' root that http-backend is given."""
        return f"/{self.namespace}/{self.app}.git/{self.endpoint}"


def parse_git_path(path: str, query_service: str) -> GitTarget:
    if ".." in path.split("/") or "/../" in path or path.endswith("/.."):
        raise BadPath(400, "repository paths may not contain '..'")
    repo, sep, endpoint = path.lstrip("/").partition(".git/")
    if not sep or endpoint not in ENDPOINTS:
        raise BadPath(
            404,
            "not a git repository URL: use <git>/<app>.git or <git>/<namespace>/<app>.git",
        )
    parts = repo.split("/")
    if len(parts) == 1:
        namespace, app = DEFAULT_NAMESPACE, parts[0]
    elif len(parts) == 2:
        namespace, app = parts
    else:
        raise BadPath(404, "a repository is <app>.git or <namespace>/<app>.git")
    try:
        check_app_name(app)
        check_namespace(namespace)
    except InvalidName as exc:
        raise BadPath(400, str(exc)) from exc
    service = endpoint if endpoint in SERVICES else query_service
    if service not in SERVICES:
        raise BadPath(403, "only git's smart HTTP protocol is served (git 1.6.6 or later)")
    return GitTarget(namespace, app, endpoint, service)
