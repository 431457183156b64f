"""The builder's HTTP application: git smart HTTP, build logs, and the hooks' endpoints.

- ``/<app>.git/...``, ``/<namespace>/<app>.git/...``: git's smart HTTP, each
  request answered by ``git http-backend`` run as a CGI child (``cgi.py``),
  after HTTP basic authentication (``auth.py``). The first push to an
  unknown app makes the App and its repository; a push holds its branches
  (``pushes.BranchLocks``) from before the CGI starts until it exits.
- ``GET /builds/<namespace>/<name>/log``: a Build's output, kept in a file.
- ``POST /internal/builds``, ``POST /internal/branches/delete``: called by the
  pre-receive hook with the process's hook secret; they stream NDJSON.
- ``GET /healthz``.

Handlers decode, call and encode; rules live in the modules they call.
"""

from __future__ import annotations

import hmac
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from builder import hooks, records
from builder.auth import Access, Pusher, TokenReviewer, token_from_header
from builder.cgi import CGIError, CGIRequest, cgi_environ, run_cgi
from builder.gitpaths import BadPath, GitTarget, parse_git_path
from builder.kinds import GROUP, NAMESPACES, main_branch
from builder.names import InvalidName, check_app_name, check_namespace
from builder.pktline import PktError, read_commands
from builder.pushbuild import slug_dir
from builder.pushes import BranchLocks, BuildService, Key
from builder.repos import Repositories
from builder.settings import BuilderSettings
from builder.slugs import SlugStore, slug_route
from orchestrator.api import errors
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)
SPOOL_CHUNK = 1 << 20


@dataclass
class BuilderDeps:
    settings: BuilderSettings
    client: APIClient
    reviewer: TokenReviewer
    repos: Repositories
    locks: BranchLocks
    service: BuildService
    hook_url: str  # where the hooks reach this process (loopback)
    hook_secret: str
    environ: dict[str, str] = field(default_factory=dict)  # PATH, HOME for the CGI
    tasks: set[Any] = field(default_factory=set)  # CGI drains outliving their request
    children: set[Any] = field(default_factory=set)  # running CGI processes, killed on stop


def text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    # text/plain: git shows the body of a 401/403 to the pusher as remote: lines.
    return PlainTextResponse(message.rstrip("\n") + "\n", status, headers=headers)


def create_app(deps: BuilderDeps) -> Starlette:
    s = deps.settings

    def unauthorized() -> Response:
        return text(
            401,
            "Authentication failed: use any user name and an API token as the password "
            "(the token in your paas data dir, or one from `paas token create`).",
            {"WWW-Authenticate": f'Basic realm="{s.realm}"'},
        )

    async def authenticate(request: Request) -> Pusher | None:
        return await deps.reviewer.authenticate(request.headers.get("authorization", ""))

    async def git(request: Request) -> Response:
        try:
            target = parse_git_path(request.url.path, request.query_params.get("service", ""))
        except BadPath as exc:
            return text(exc.status, str(exc))
        try:
            pusher = await authenticate(request)
        except errors.APIError as exc:
            return text(503, f"cannot check your token: the API server is unavailable ({exc})")
        if pusher is None:
            return unauthorized()
        # A push creates a Build of the app; a fetch reads the app (builder/auth.py).
        if target.pushes:
            access = Access("create", GROUP, "builds", target.namespace)
        else:
            access = Access("get", GROUP, "apps", target.namespace, target.app)
        denied = await _denied(deps, pusher, access)
        if denied is not None:
            return denied
        try:
            refused = await _prepare(deps, target)
        except errors.APIError as exc:
            return text(503, f"the API server refused: {exc}")
        if refused is not None:
            return refused
        return await _serve_cgi(deps, request, target, pusher)

    async def build_log(request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        try:
            check_namespace(namespace)
            if "/" in name or name.startswith("."):
                raise InvalidName(f"invalid build name {name!r}")
        except InvalidName as exc:
            return text(400, str(exc))
        try:
            pusher = await authenticate(request)
        except errors.APIError as exc:
            return text(503, f"cannot check your token: {exc}")
        if pusher is None:
            return unauthorized()
        denied = await _denied(deps, pusher, Access("get", GROUP, "builds", namespace, name))
        if denied is not None:
            return denied
        path = deps.service.log_path(namespace, name)
        if not path.is_file():
            return text(404, f"no log for build {namespace}/{name}")
        return FileResponse(path, media_type="text/plain; charset=utf-8")

    def internal(
        handler: Callable[[dict[str, Any]], Any],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            given = token_from_header(request.headers.get("authorization", ""))
            if not hmac.compare_digest(given.encode(), deps.hook_secret.encode()):
                return text(403, "only the builder's own hooks may call this")
            body = await request.json()
            try:
                check_namespace(str(body["namespace"]))
                check_app_name(str(body["app"]))
            except (KeyError, InvalidName) as exc:
                return text(400, str(exc))
            return StreamingResponse(handler(body), media_type="application/x-ndjson")

        return endpoint

    def start_build(body: dict[str, Any]) -> Any:
        return deps.service.build(
            body["namespace"], body["app"], body["branch"], body["commit"], Path(body["source"])
        )

    def delete_branch(body: dict[str, Any]) -> Any:
        return deps.service.delete_branch(body["namespace"], body["app"], body["branch"])

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/healthz", healthz),
        Route("/builds/{namespace}/{name}/log", build_log),
        Route("/internal/builds", internal(start_build), methods=["POST"]),
        Route("/internal/branches/delete", internal(delete_branch), methods=["POST"]),
        slug_route(SlugStore(slug_dir(deps.settings.data_dir))),  # nodes fetch slugs here
        Route("/{path:path}", git, methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes)


async def _prepare(deps: BuilderDeps, target: GitTarget) -> Response | None:
    """Make the App and its repository on a push's first request; None when all is there."""
    client = deps.client
    if target.pushes:
        try:
            await client.get(NAMESPACES, target.namespace)
        except errors.NotFound:
            return text(404, f'namespace "{target.namespace}" does not exist; create it first')
        app, made = await records.ensure_app(client, target.namespace, target.app)
        if made:
            log.info("created app %s/%s on its first push", target.namespace, target.app)
    else:
        found = await records.get_app(client, target.namespace, target.app)
        if found is None:
            return text(404, f'no app "{target.app}" in namespace "{target.namespace}"')
        app = found
    deps.repos.ensure(target.namespace, target.app, app["metadata"]["uid"], main_branch(app))
    return None


async def _spool(request: Request, into: IO[bytes]) -> None:
    """The request body, to a file: never whole in memory, all read before the CGI starts."""
    pending = bytearray()
    async for chunk in request.stream():
        pending += chunk
        if len(pending) >= SPOOL_CHUNK:
            into.write(pending)
            pending.clear()
    into.write(pending)
    into.flush()
    into.seek(0)


def _branch_keys(target: GitTarget, spool: IO[bytes], encoding: str) -> list[Key]:
    if encoding == "gzip":
        import gzip

        body: IO[bytes] = gzip.GzipFile(fileobj=spool)  # type: ignore[assignment]
    else:
        body = spool
    try:
        updates = read_commands(body)
    except (PktError, OSError):
        updates = []  # http-backend answers a broken body itself
    finally:
        spool.seek(0)
    return [(target.namespace, target.app, u.branch) for u in updates if u.branch]


async def _denied(deps: BuilderDeps, pusher: Pusher, access: Access) -> Response | None:
    """A 403 in Kubernetes' words when RBAC does not give ``pusher`` the right, else None."""
    try:
        allowed, reason = await deps.reviewer.allows(pusher, access)
    except errors.APIError as exc:
        return text(503, f"cannot check your rights: the API server refused ({exc})")
    if allowed:
        return None
    message = access.refusal(pusher)
    return text(403, f"{message}: {reason}" if reason else message)


async def _serve_cgi(
    deps: BuilderDeps, request: Request, target: GitTarget, pusher: Pusher
) -> Response:
    s = deps.settings
    s.work.mkdir(parents=True, exist_ok=True)
    # Unbuffered: a buffered file's seek(0) may only move within its buffer, leaving the
    # descriptor the CGI inherits at the end of the body (http-backend then spins on EOF).
    spool = tempfile.TemporaryFile(dir=s.work, buffering=0)  # gone once closed, or on a crash
    keys: list[Key] = []
    finished = False

    def finish() -> None:
        nonlocal finished
        if not finished:  # once: a lock released twice could be another push's
            finished = True
            spool.close()
            deps.locks.release(keys)

    try:
        if request.method == "POST":
            await _spool(request, spool)
        encoding = request.headers.get("content-encoding", "")
        if request.method == "POST" and target.endpoint == "git-receive-pack":
            keys = _branch_keys(target, spool, encoding)
            await deps.locks.acquire(keys)
        cgi = CGIRequest(
            method=request.method,
            path_info=target.path_info,
            query=request.url.query,
            content_type=request.headers.get("content-type", ""),
            content_length=request.headers.get("content-length", ""),
            content_encoding=encoding,
            git_protocol=request.headers.get("git-protocol", ""),
            remote_user=pusher.name,
            remote_addr=request.client.host if request.client else "",
        )
        env = cgi_environ(
            cgi,
            str(s.repos),
            deps.environ,
            {
                hooks.ENV_URL: deps.hook_url,
                hooks.ENV_SECRET: deps.hook_secret,
                hooks.ENV_NAMESPACE: target.namespace,
                hooks.ENV_APP: target.app,
                hooks.ENV_WORK: str(s.work),
                "PYTHONUNBUFFERED": "1",
            },
        )

        async def done(code: int) -> None:
            finish()
            if code != 0:
                log.warning("git http-backend %s exited %s", target.path_info, code)

        response = await run_cgi([s.git, "http-backend"], env, spool, on_exit=done, keep=deps.tasks)
    except CGIError as exc:
        return text(500, f"the git server failed: {exc}")
    except BaseException:
        finish()
        raise
    headers = {k: v for k, v in response.headers if k.lower() != "content-length"}
    return StreamingResponse(response.body, status_code=response.status, headers=headers)


def hook_python() -> str:
    """The interpreter the hooks run with: this one, so they import the same builder."""
    return sys.executable
