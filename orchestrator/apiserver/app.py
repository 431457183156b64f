"""The API server's HTTP application: authenticate, route, decode, call, encode.

One catch-all route dispatches on the parsed path (``routes.parse_path``), so
trailing slashes never redirect and unknown paths answer a Kubernetes 404
Status. Handlers only translate between HTTP and the registry; the rules
live in ``registry``, ``patching``, ``subresources`` and ``watch``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api import errors, protobuf
from orchestrator.api.copying import copy_json
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType, ResourceTypes
from orchestrator.api.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from orchestrator.api.strategy import strategy_of
from orchestrator.apiserver import (
    deadline,
    discovery,
    listversions,
    managedfields,
    metrics,
    nodeproxyroute,
    openapi,
    patching,
    podlogs,
    resourcemetrics,
    subresources,
    tokenreview,
    watch,
)
from orchestrator.apiserver.auth import TokenAuthenticator
from orchestrator.apiserver.authz import reviews
from orchestrator.apiserver.authz.chain import AuthorizerChain
from orchestrator.apiserver.authz.impersonation import acting_as
from orchestrator.apiserver.authz.requestinfo import attributes_of
from orchestrator.apiserver.deleteoptions import check_delete_options
from orchestrator.apiserver.identity import ANONYMOUS_USER, UserInfo, node_name_of
from orchestrator.apiserver.inflight import InFlight, is_long_running
from orchestrator.apiserver.nodeproxy import NodeProxy
from orchestrator.apiserver.openapidocs import OpenAPIDocuments
from orchestrator.apiserver.registry import Registry, WriteOptions
from orchestrator.apiserver.resourcemetricsscrape import SummaryScraper
from orchestrator.apiserver.routes import Discovery, Target, parse_path
from orchestrator.apiserver.serviceaccounts.wiring import ServiceAccounts
from orchestrator.apiserver.streams.sessions import StreamSettings
from orchestrator.apiserver.streams.target import SUBRESOURCES as STREAM_SUBRESOURCES
from orchestrator.apiserver.streams.websocket import serve_websocket
from orchestrator.apiserver.watchcache import WatchHub
from orchestrator.apiserver.wire import (
    MAX_OBJECT,
    Query,
    add_warnings,
    check_object_size,
    decode_body,
    error_response,
    json_response,
    media_type,
    object_response,
    off_loop,
    parse_bool,
    parse_query,
    read_body,
    wants_table,
)
from orchestrator.store.base import StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class APISettings:
    server_address: str = "127.0.0.1:6443"  # what /api tells clients to call
    watch: watch.WatchSettings = field(default_factory=watch.WatchSettings)
    freshness_wait: float = 3.0  # a list waits this long for a future resourceVersion (Kubernetes)
    request_timeout: float = deadline.DEFAULT_SECONDS  # most a request may take (deadline.py)


@dataclass
class APIState:
    registry: Registry
    hub: WatchHub
    auth: TokenAuthenticator
    types: ResourceTypes = BUILTIN_TYPES
    settings: APISettings = field(default_factory=APISettings)
    ready: bool = True
    nodes: NodeProxy = field(default_factory=NodeProxy)  # logs come from the node agents
    # metrics.k8s.io: the node agents' Summaries, scraped on request and cached briefly
    resource_metrics: SummaryScraper = field(default_factory=SummaryScraper)
    openapi: OpenAPIDocuments = field(default_factory=OpenAPIDocuments)
    streams: StreamSettings = field(default_factory=StreamSettings)  # exec, attach, port-forward
    inflight: InFlight = field(default_factory=InFlight)  # requests in flight (inflight.py)
    # TokenRequest, the OIDC discovery documents (serviceaccounts/); None: not served
    service_accounts: ServiceAccounts | None = None
    # Who may do what (authz/); None = every authenticated caller may do anything.
    authorizer: AuthorizerChain | None = None


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})


def create_app(state: APIState) -> ASGIApp:
    """The ASGI application: every HTTP request goes to ``dispatch``.

    A bare ASGI callable rather than a Starlette app with one catch-all route:
    the router and the two error middlewares had nothing to do here (handlers
    map every error to a Status themselves) and cost a few percent of the
    server's CPU per request.
    """

    async def endpoint(request: Request) -> Response:
        try:
            try:
                return await dispatch(state, request)
            finally:
                state.inflight.release(request.scope)  # limits: the slot dispatch admitted
        except errors.APIError as exc:
            response = error_response(exc)
            retry = exc.details.get("retryAfterSeconds")
            if retry:  # Kubernetes says it in a header too; client-go waits and retries
                response.headers["Retry-After"] = str(retry)
            return response
        except StoreUnavailable as exc:
            return error_response(errors.ServiceUnavailable(f"storage is unavailable: {exc}"))
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.url.path)
            return error_response(
                errors.InternalError("an internal error occurred; see the API server's log")
            )

    allow = ", ".join(sorted(_METHODS))

    async def _in_time(request: Request, receive: Receive, send: Send) -> Response | None:
        """``endpoint``'s response, or None once the deadline's 504 was sent (deadline.py)."""
        try:
            seconds = deadline.request_timeout(
                request.scope["query_string"], state.settings.request_timeout
            )
        except errors.APIError as exc:
            return error_response(exc)
        return await deadline.within(endpoint(request), seconds, request.scope, receive, send)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # exec, attach and port-forward (streams/)
                await serve_websocket(state, scope, receive, send, state.streams)
            return
        started = time.perf_counter()
        request = Request(scope, receive, send)
        labels = None
        code = 500  # what is counted when sending fails
        long_running = is_long_running(scope["path"], scope["query_string"])
        if long_running:  # counted while it lasts
            labels = _metric_labels(state, request, long_running)
            metrics.LONG_RUNNING.labels(*labels).inc()
        try:
            response: Response | None
            if request.method not in _METHODS:
                response = PlainTextResponse("Method Not Allowed", 405, headers={"Allow": allow})
            elif long_running:
                response = await endpoint(request)
            else:
                response = await _in_time(request, receive, send)
            if response is None:  # the deadline answered it
                code = 504
            else:
                code = response.status_code
                await response(scope, receive, send)
        finally:
            if labels is not None:
                metrics.LONG_RUNNING.labels(*labels).dec()
            else:
                labels = _metric_labels(state, request, long_running)
            metrics.observe_request(labels, code, time.perf_counter() - started)

    return app


_ATTRIBUTES = "paas.attributes"  # the request's Attributes, once computed (scope key)
_TARGET = "paas.target"  # the dispatcher's parse of a resource path, when no authorizer ran
_NOBODY = UserInfo(ANONYMOUS_USER)  # whom the attributes of a refused request name


def _metric_labels(state: APIState, request: Request, watching: bool) -> tuple[str, ...]:
    """The request's metric labels: from the Attributes authorization computed, else from the
    dispatcher's Target (requests no authorizer looked at), else computed here (refusals)."""
    scope = request.scope
    attrs = scope.get(_ATTRIBUTES)
    target = scope.get(_TARGET)
    if attrs is None and target is not None:
        return metrics.target_labels(
            target.rt,
            target.namespace,
            target.name,
            target.subresource,
            scope["method"],
            request.headers.get("content-type", ""),
            watching,
        )
    if attrs is None:
        query = scope["query_string"].decode("latin-1")
        attrs = scope[_ATTRIBUTES] = attributes_of(_NOBODY, scope["method"], scope["path"], query)
    verb = metrics.metrics_verb(attrs, scope["method"], request.headers.get("content-type", ""))
    return metrics.request_labels(attrs, verb, state.types)


def _metrics_text(request: Request) -> Response:
    """Prometheus' text (or OpenMetrics, as the scraper's Accept asks) of this process."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), headers={"Content-Type": content_type})


async def dispatch(state: APIState, request: Request) -> Response:
    path = request.scope["path"]  # request.url builds a whole URL object: costly per request
    user = None
    if not state.auth.is_anonymous(path):
        user = state.auth.authenticate(request.headers.get("authorization"))
        if user is None:
            raise errors.Unauthorized("Unauthorized")
        user = acting_as(state.authorizer, user, request.scope["headers"])  # kubectl --as
    state.inflight.admit(request.scope, user)  # limits: 429 beyond the requests in flight
    if user is not None and state.authorizer is not None and not user.is_master:
        # Kubernetes' order: in flight (429), then authorization, before the body is read
        query = request.scope["query_string"].decode("latin-1")
        attrs = request.scope[_ATTRIBUTES] = attributes_of(user, request.method, path, query)
        state.authorizer.check(attrs)  # the metrics' labels come from the same attributes
    plain = path.rstrip("/") or "/"
    if plain in ("/healthz", "/livez"):
        return PlainTextResponse("ok")
    if plain == "/readyz" or plain.startswith("/readyz/"):
        if not state.ready:
            return PlainTextResponse("not ready", status_code=503)
        try:  # ready means the store answers, as Kubernetes' readyz checks etcd
            await asyncio.wait_for(state.registry.store.current_revision(), 2.0)
        except (StoreUnavailable, TimeoutError) as exc:
            return PlainTextResponse(f"[-]store failed: {exc}", status_code=503)
        return PlainTextResponse("ok")
    if plain == "/metrics":  # a non-resource URL: get on /metrics (system:monitoring)
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed(f"{request.method} is not allowed on /metrics")
        return _metrics_text(request)
    if plain == "/version":
        return json_response(discovery.SERVER_VERSION)
    if plain == "/openapi/v2":
        # An empty protobuf document: kubectl's client-side validation then knows no types
        # and leaves validation to the server (see reference/kubectl-compat.md 2.2).
        return Response(b"", media_type="application/octet-stream")
    if plain == "/openapi/v3" or plain.startswith("/openapi/v3/"):
        return _openapi_v3(state, request, plain)
    if state.service_accounts is not None:  # ServiceAccount issuer discovery (Kubernetes' paths)
        if plain == "/.well-known/openid-configuration":
            base = f"https://{state.settings.server_address}"
            return json_response(state.service_accounts.openid_configuration(base))
        if plain == "/openid/v1/jwks":
            return json_response(state.service_accounts.signer.jwks())
    parsed = parse_path(path, state.types)
    if isinstance(parsed, Discovery):
        return _discovery(state, parsed)
    if parsed is None:
        raise errors.NotFound("the server could not find the requested resource")
    if _ATTRIBUTES not in request.scope:
        request.scope[_TARGET] = parsed  # the metrics' labels, without parsing the path again
    who = (user.name, user.groups) if user is not None else ("", ())
    if parsed.rt.group == resourcemetrics.GROUP:
        return await resourcemetrics.serve(
            state.registry,
            state.nodes,
            state.resource_metrics,
            parsed,
            request.method,
            request.query_params,
            table=wants_table(request),
        )
    if parsed.subresource == "proxy":  # nodes/NAME/proxy/...: the node agent answers
        return await nodeproxyroute.serve_node_proxy(state.registry, state.nodes, parsed, request)
    if parsed.rt.group == "authentication.k8s.io" and parsed.rt.kind == tokenreview.KIND:
        if request.method != "POST" or parsed.name:
            raise errors.MethodNotAllowed(f"{parsed.rt.plural} can only be created")
        body = await _body(request, parsed.rt)
        return json_response(tokenreview.review_token(state.auth, body), 201)
    if parsed.rt.group in reviews.GROUPS and parsed.rt.kind in reviews.KINDS:
        if request.method != "POST" or parsed.name:
            raise errors.MethodNotAllowed(f"{parsed.rt.plural} can only be created")
        body = await _body(request, parsed.rt)
        return object_response(
            request.headers.get("accept", ""),
            reviews.answer(state.authorizer, user, parsed.rt, parsed.namespace, body),
            201,
        )
    if not parsed.rt.group and parsed.rt.kind == "Binding":
        if request.method != "POST" or parsed.name:
            raise errors.MethodNotAllowed(f"{parsed.rt.plural} can only be created")
        status = await subresources.bind_from_collection(
            state.registry,
            state.types.require("", "Pod"),
            parsed.namespace,
            await _body(request, parsed.rt),
            _write_options(parse_query(request), who, request),
        )
        return json_response(status, 201)
    if parsed.rt.deprecation_warning:
        try:
            response = await _resource(state, request, parsed, who)
        except errors.APIError as exc:
            response = error_response(exc)
        return add_warnings(response, [parsed.rt.deprecation_warning])
    return await _resource(state, request, parsed, who)


def _openapi_v3(state: APIState, request: Request, plain: str) -> Response:
    docs, hashes = state.openapi.current(state.types)
    if plain == "/openapi/v3":
        return json_response(openapi.index(docs))
    path = plain.removeprefix("/openapi/v3/")
    body = docs.get(path)
    if body is None:
        raise errors.NotFound("the server could not find the requested resource")
    reply = openapi.document_reply(
        path,
        hashes[path],
        request.query_params.get("hash"),
        now=datetime.now(UTC),
        if_none_match=request.headers.get("if-none-match", ""),
    )
    if reply.status != 200:
        return Response(b"", status_code=reply.status, headers=dict(reply.headers))
    return Response(body, status_code=200, headers=dict(reply.headers))


def _discovery(state: APIState, d: Discovery) -> Response:
    doc: dict[str, Any] | None
    if d.legacy and d.version is None:
        doc = discovery.api_versions(state.settings.server_address)
    elif d.group is None:
        doc = discovery.api_group_list(state.types)
    elif d.version is None:
        doc = discovery.api_group(state.types, d.group)
    else:
        doc = discovery.resource_list(state.types, d.group, d.version)
    if doc is None:
        raise errors.NotFound("the server could not find the requested resource")
    return json_response(doc)


def _selectors(rt: ResourceType, q: Query) -> tuple[LabelSelector | None, FieldSelector | None]:
    try:
        labels = parse_label_selector(q.label_selector) if q.label_selector else None
        fields = parse_field_selector(q.field_selector) if q.field_selector else None
    except SelectorError as exc:
        raise errors.BadRequest(f"unable to parse requirement: {exc}") from exc
    if fields is not None:
        strategy = strategy_of(rt)
        for field_name, _op, _value in fields.requirements:
            if not strategy.selectable_field(field_name):
                raise errors.BadRequest(f"field label not supported: {field_name}")
    return labels, fields


def _render(request: Request, rt: ResourceType, q: Query) -> watch.Render:
    """How one object is sent: as itself, or as a one-row Table."""
    if not wants_table(request):
        return lambda obj: obj
    strategy = strategy_of(rt)
    return lambda obj: strategy.table(
        [obj],
        now=datetime.now(UTC),
        include_object=q.include_object,
        resource_version=obj["metadata"].get("resourceVersion", ""),
    )


def _watch_render(request: Request, rt: ResourceType, q: Query) -> watch.Render | None:
    """None when the stored bytes go out as they are; else how a stored object is shown."""
    strategy = strategy_of(rt)
    # A change's object is shared by every watcher: reading it for a version works on a copy.
    if wants_table(request):
        table = _render(request, rt, q)
        if strategy.reads_as_stored:
            return table
        return lambda obj: table(strategy.for_read(copy_json(obj)))
    return None if strategy.reads_as_stored else lambda obj: strategy.for_read(copy_json(obj))


async def _resource(
    state: APIState, request: Request, t: Target, who: tuple[str, tuple[str, ...]]
) -> Response:
    q = parse_query(request)
    method = request.method
    reg = state.registry
    accept = request.headers.get("accept", "")
    rt = t.rt
    opts = _write_options(q, who, request)
    if not t.name:
        if method in ("GET", "HEAD"):
            labels, fields = _selectors(rt, q)
            if q.watch:
                return _watch(state, request, t, q, labels, fields)
            plan = listversions.plan_list(
                q.resource_version,
                request.query_params.get("resourceVersionMatch", ""),
                q.limit,
                q.continue_token,
            )
            if plan.wait_for:
                await listversions.wait_for_revision(
                    reg.store, plan.wait_for, state.settings.freshness_wait
                )
            items, revision, token = await reg.list(
                rt,
                t.namespace,
                labels=labels,
                fields=fields,
                limit=q.limit,
                continue_token=q.continue_token,
                revision=plan.revision,
            )
            if wants_table(request):
                return json_response(
                    strategy_of(rt).table(
                        items,
                        now=datetime.now(UTC),
                        include_object=q.include_object,
                        resource_version=str(revision),
                        continue_token=token,
                    )
                )
            meta: dict[str, Any] = {"resourceVersion": str(revision)}
            if token:
                meta["continue"] = token
            return object_response(
                accept,
                {
                    "kind": rt.list_kind,
                    "apiVersion": rt.api_version,
                    "metadata": meta,
                    "items": items,
                },
            )
        if method == "POST":
            if rt.namespaced and not t.namespace:
                raise errors.NotFound("the server could not find the requested resource")
            body = await _body(request, rt)
            result = await reg.create(rt, t.namespace, body, opts)
            return object_response(accept, result.obj, 201, result.warnings)
        if method == "DELETE":
            if "deletecollection" not in rt.verbs:
                raise errors.MethodNotAllowed(f"{rt.plural} cannot be deleted as a collection")
            return await _delete_collection(state, request, t, q, opts)
        raise errors.MethodNotAllowed(f"{method} is not allowed on a collection")

    if t.subresource == "scale":
        return await _scale(state, request, t, opts)
    if t.subresource == "binding":
        if method != "POST":
            raise errors.MethodNotAllowed("binding accepts only POST")
        status = await subresources.bind_pod(
            reg, rt, t.namespace, t.name, await _body(request, rt, "Binding"), opts
        )
        return json_response(status, 201)
    if t.subresource == "token" and state.service_accounts is not None:
        if method != "POST":
            raise errors.MethodNotAllowed("token accepts only POST")
        body = await _body(request, rt, "TokenRequest")
        node = node_name_of(UserInfo(opts.user, groups=opts.groups))
        issued = await state.service_accounts.issuer.request_token(
            t.namespace, t.name, body, node=node
        )
        return object_response(accept, issued, 201)
    if t.subresource == "log":
        if method != "GET":
            raise errors.MethodNotAllowed("log accepts only GET")
        return await podlogs.serve_pod_log(
            reg, state.nodes, rt, t.namespace, t.name, request.query_params
        )
    if t.subresource in STREAM_SUBRESOURCES:  # upgrades never get here (streams/)
        raise errors.BadRequest("Upgrade request required")
    if method in ("GET", "HEAD"):
        obj = await reg.get(rt, t.namespace, t.name)
        return object_response(accept, _render(request, rt, q)(obj))
    sub = "status" if t.subresource in ("status", "finalize") else ""
    if t.subresource == "finalize":
        sub = ""
    if method == "PUT":
        body = await _body(request, rt)
        result = await reg.update(rt, t.namespace, t.name, body, opts, subresource=sub)
        return object_response(accept, result.obj, 200, result.warnings)
    if method == "PATCH":
        raw = await read_body(request)
        result = await patching.patch_object(
            reg,
            rt,
            t.namespace,
            t.name,
            media_type(request),
            raw,
            opts,
            subresource=sub,
            field_manager=q.field_manager,
            force=parse_bool("force", request.query_params["force"])
            if "force" in request.query_params
            else False,
        )
        return object_response(accept, result.obj, 201 if result.created else 200, result.warnings)
    if method == "DELETE":
        options = await _delete_options(request, q, rt)
        opts = _body_dry_run(options, opts)
        obj, gone = await reg.delete(rt, t.namespace, t.name, options, opts)
        return object_response(accept, obj, 200 if gone else 202)  # 202: deletion is pending
    raise errors.MethodNotAllowed(f"{method} is not allowed here")


def _write_options(q: Query, who: tuple[str, tuple[str, ...]], request: Request) -> WriteOptions:
    """How a write is made; without ``fieldManager`` the client's name from its User-Agent."""
    return WriteOptions(
        dry_run=q.dry_run,
        field_validation=q.field_validation or "Warn",
        user=who[0],
        groups=who[1] or ("system:authenticated",),
        field_manager=q.field_manager
        or managedfields.manager_from_user_agent(request.headers.get("user-agent", "")),
    )


def _protobuf_kind(content_type: str, rt: ResourceType | None, kind: str = "") -> str:
    """The kind a protobuf body must hold on ``rt``'s path ("" = protobuf refused: 415).

    Only built-in kinds have a protobuf form; custom resources are JSON only, as in Kubernetes.
    Looked at only for protobuf bodies: the tables load on first use.
    """
    if content_type != protobuf.MEDIA_TYPE or rt is None or rt.storage_version:
        return ""
    if not protobuf.encodable({"apiVersion": rt.api_version, "kind": rt.kind}):
        return ""
    return kind or rt.kind


async def _body(request: Request, rt: ResourceType | None = None, kind: str = "") -> Any:
    """The decoded body; a protobuf one must hold ``kind`` (default: ``rt``'s own)."""
    raw = await read_body(request)
    content_type = media_type(request)
    body = await off_loop(
        raw, decode_body, raw, content_type, _protobuf_kind(content_type, rt, kind)
    )
    if (
        len(raw) > MAX_OBJECT or "json" not in content_type
    ):  # compact JSON is never longer than JSON sent
        check_object_size(body)
    return body


async def _delete_options(
    request: Request, q: Query, rt: ResourceType | None = None
) -> dict[str, Any]:
    raw = await read_body(request)
    options: dict[str, Any] = {}
    if raw.strip():
        content_type = media_type(request)
        decoded = decode_body(raw, content_type, _protobuf_kind(content_type, rt, "DeleteOptions"))
        if not isinstance(decoded, dict):
            raise errors.BadRequest("DeleteOptions must be an object")
        options = check_delete_options(decoded)
    if q.propagation_policy:
        options["propagationPolicy"] = q.propagation_policy
    if q.grace_period_seconds is not None:
        options["gracePeriodSeconds"] = q.grace_period_seconds
    policy = options.get("propagationPolicy")
    if policy and policy not in ("Orphan", "Background", "Foreground"):
        raise errors.BadRequest(
            f'propagationPolicy must be Orphan, Background or Foreground, not "{policy}"'
        )
    return options


def _body_dry_run(options: dict[str, Any], opts: WriteOptions) -> WriteOptions:
    """kubectl ``delete --dry-run=server`` sends ``dryRun`` in the DeleteOptions body."""
    values = options.get("dryRun") or []
    if not isinstance(values, list) or any(v != "All" for v in values):
        raise errors.BadRequest(f'unsupported dryRun value {values!r}: only "All" is supported')
    return dataclasses.replace(opts, dry_run=True) if values else opts


async def _delete_collection(
    state: APIState, request: Request, t: Target, q: Query, opts: WriteOptions
) -> Response:
    labels, fields = _selectors(t.rt, q)
    options = await _delete_options(request, q, t.rt)
    opts = _body_dry_run(options, opts)
    items, revision, _ = await state.registry.list(t.rt, t.namespace, labels=labels, fields=fields)
    deleted = []
    for obj in items:
        meta = obj["metadata"]
        try:
            gone, _ = await state.registry.delete(
                t.rt, meta.get("namespace", ""), meta["name"], options, opts
            )
        except errors.NotFound:
            continue
        deleted.append(gone)
    return json_response(
        {
            "kind": t.rt.list_kind,
            "apiVersion": t.rt.api_version,
            "metadata": {"resourceVersion": str(revision)},
            "items": deleted,
        }
    )


async def _scale(state: APIState, request: Request, t: Target, opts: WriteOptions) -> Response:
    reg, rt = state.registry, t.rt
    if request.method == "GET":
        return json_response(await subresources.get_scale(reg, rt, t.namespace, t.name))
    if request.method == "PUT":
        result = await subresources.write_scale(
            reg,
            rt,
            t.namespace,
            t.name,
            opts,
            body=await _body(request, rt, "Scale"),
        )
    elif request.method == "PATCH":
        result = await subresources.write_scale(
            reg,
            rt,
            t.namespace,
            t.name,
            opts,
            content_type=media_type(request),
            raw=await read_body(request),
        )
    else:
        raise errors.MethodNotAllowed("scale accepts GET, PUT and PATCH")
    return json_response(result.obj)


def _watch(
    state: APIState,
    request: Request,
    t: Target,
    q: Query,
    labels: LabelSelector | None,
    fields: FieldSelector | None,
) -> Response:
    # Checked before streaming: once the 200 is sent, an error goes as an ERROR event.
    listversions.parse(q.resource_version)
    body = watch.stream(
        state.registry,
        state.hub,
        t.rt,
        t.namespace,
        resource_version=q.resource_version,
        labels=labels,
        fields=fields,
        timeout=q.timeout_seconds,
        bookmarks=q.allow_bookmarks,
        render=_watch_render(request, t.rt, q),
        settings=state.settings.watch,
    )
    return StreamingResponse(
        body, media_type="application/json", headers={"Cache-Control": "no-cache"}
    )
