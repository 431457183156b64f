"""/openapi/v3 for custom resources: the documents, their caching, and real kubectl reading them.

The kubectl tests run the machine's kubectl against a tiny server on loopback
that serves only discovery for one custom group and these documents, so what
they show is what ``kubectl explain`` needs from us, and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support.apiserver import RunningAPI
from support.engines import require_engine
from support.wait import wait_until

from orchestrator.apiserver.openapi import (
    PATCH_TYPES,
    CustomKindDoc,
    accepts_json,
    document_bytes,
    document_hash,
    document_reply,
    group_version_document,
    index,
    model_name,
)

GROUP, VERSION = "stable.example.com", "v1"
NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
KUBECTL_127 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27"

CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CronTab runs a container image on a schedule.",
    "properties": {
        "spec": {
            "type": "object",
            "description": "Desired state of the CronTab.",
            "required": ["cronSpec"],
            "properties": {
                "cronSpec": {
                    "type": "string",
                    "description": "Schedule in cron format, such as */5 * * * *.",
                },
                "image": {"type": "string", "description": "Container image to run."},
                "replicas": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10,
                    "description": "How many copies run at once.",
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                    "description": "An object created on every run.",
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {"replicas": {"type": "integer", "description": "Copies running."}},
        },
    },
}
CRONTAB = CustomKindDoc(
    kind="CronTab",
    list_kind="CronTabList",
    plural="crontabs",
    singular="crontab",
    namespaced=True,
    schema=CRONTAB_SCHEMA,
    has_status=True,
    has_scale=True,
)


def crontab_document() -> dict[str, Any]:
    return group_version_document(GROUP, VERSION, [CRONTAB])


# -- the document ----------------------------------------------------------------


def test_kind_schema_is_named_by_reversed_group_and_carries_type_meta() -> None:
    schemas = crontab_document()["components"]["schemas"]
    assert model_name(GROUP, VERSION, "CronTab") == "com.example.stable.v1.CronTab"
    crontab = schemas["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-group-version-kind"] == [
        {"group": GROUP, "version": VERSION, "kind": "CronTab"}
    ]
    assert crontab["properties"]["spec"] == {
        **CRONTAB_SCHEMA["properties"]["spec"],
        "properties": {
            **CRONTAB_SCHEMA["properties"]["spec"]["properties"],
            "template": {
                **CRONTAB_SCHEMA["properties"]["spec"]["properties"]["template"],
                "properties": {
                    "apiVersion": crontab["properties"]["apiVersion"],
                    "kind": crontab["properties"]["kind"],
                    "metadata": crontab["properties"]["metadata"],
                },
                "required": ["kind", "apiVersion"],
            },
        },
    }
    assert crontab["properties"]["metadata"]["$ref"] == (
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    assert crontab["properties"]["apiVersion"]["type"] == "string"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "spec" not in CRONTAB_SCHEMA["properties"]["spec"]["properties"]["template"].get(
        "properties", {}
    ), "the CRD's own schema is not modified"


def test_list_schema_refers_to_the_kind_and_list_meta() -> None:
    crontab_list = crontab_document()["components"]["schemas"]["com.example.stable.v1.CronTabList"]
    assert crontab_list["x-kubernetes-group-version-kind"] == [
        {"group": GROUP, "version": VERSION, "kind": "CronTabList"}
    ]
    assert crontab_list["required"] == ["items"]
    assert crontab_list["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.stable.v1.CronTab"
    }
    assert crontab_list["properties"]["metadata"]["$ref"].endswith("meta.v1.ListMeta")


def test_every_reference_resolves() -> None:
    document = crontab_document()
    schemas = document["components"]["schemas"]
    refs = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].removeprefix("#/components/schemas/"))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs - set(schemas) == set()


def test_paths_cover_the_routes_with_a_gvk_on_every_operation() -> None:
    paths = crontab_document()["paths"]
    base = "/apis/stable.example.com/v1"
    root = f"{base}/namespaces/{{namespace}}/crontabs"
    assert sorted(paths) == sorted(
        [
            f"{base}/crontabs",
            root,
            f"{root}/{{name}}",
            f"{root}/{{name}}/status",
            f"{root}/{{name}}/scale",
        ]
    )
    methods = {path: sorted(k for k in entry if k != "parameters") for path, entry in paths.items()}
    assert methods == {
        f"{base}/crontabs": ["get"],
        root: ["delete", "get", "post"],
        f"{root}/{{name}}": ["delete", "get", "patch", "put"],
        f"{root}/{{name}}/status": ["get", "patch", "put"],
        f"{root}/{{name}}/scale": ["get", "patch", "put"],
    }
    gvk = {"group": GROUP, "version": VERSION, "kind": "CronTab"}
    for entry in paths.values():
        for method, operation in entry.items():
            if method != "parameters":
                assert operation["x-kubernetes-group-version-kind"] == gvk
    assert paths[root]["get"]["operationId"] == "listStableExampleComV1NamespacedCronTab"
    assert paths[f"{base}/crontabs"]["get"]["operationId"] == (
        "listStableExampleComV1CronTabForAllNamespaces"
    )
    scale = paths[f"{root}/{{name}}/scale"]["get"]["responses"]["200"]["content"]
    assert scale["application/json"]["schema"]["$ref"].endswith("io.k8s.api.autoscaling.v1.Scale")


def test_patch_advertises_only_json_merge_and_apply_patches() -> None:
    paths = crontab_document()["paths"]
    for path, entry in paths.items():
        if "patch" in entry:
            patch = entry["patch"]
            assert sorted(patch["requestBody"]["content"]) == sorted(PATCH_TYPES), path
            assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
            names = {p["name"] for p in patch["parameters"] if p["in"] == "query"}
            assert {"fieldValidation", "fieldManager", "force", "dryRun"} <= names


def test_cluster_scoped_kinds_have_no_namespace_paths() -> None:
    doc = CustomKindDoc("Widget", "WidgetList", "widgets", "widget", False, None)
    document = group_version_document("example.com", "v1alpha1", [doc])
    assert sorted(document["paths"]) == [
        "/apis/example.com/v1alpha1/widgets",
        "/apis/example.com/v1alpha1/widgets/{name}",
    ]
    schema = document["components"]["schemas"]["com.example.v1alpha1.Widget"]
    assert schema == {
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": "example.com", "version": "v1alpha1", "kind": "Widget"}
        ],
    }


# -- hashes, the index, caching -----------------------------------------------------


def test_hash_is_stable_and_follows_the_content() -> None:
    first, second = crontab_document(), crontab_document()
    assert document_hash(first) == document_hash(second) == document_hash(document_bytes(first))
    assert len(document_hash(first)) == 128 and document_hash(first).isupper()
    second["paths"].pop("/apis/stable.example.com/v1/crontabs")
    assert document_hash(first) != document_hash(second)


def test_index_lists_each_group_version_with_its_hash_url() -> None:
    document = crontab_document()
    assert index({"apis/stable.example.com/v1": document}) == {
        "paths": {
            "apis/stable.example.com/v1": {
                "serverRelativeURL": "/openapi/v3/apis/stable.example.com/v1?hash="
                + document_hash(document)
            }
        }
    }
    assert index({"apis/stable.example.com/v1": document_bytes(document)}) == index(
        {"apis/stable.example.com/v1": document}
    )


def test_matching_hash_is_immutable_and_a_stale_one_redirects() -> None:
    path = "apis/stable.example.com/v1"
    current = document_reply(path, "ABC", "ABC", now=NOW)
    assert current.status == 200
    assert current.headers["Cache-Control"] == "public, immutable"
    assert current.headers["ETag"] == '"ABC"'
    assert current.headers["Expires"] == "Tue, 31 Dec 2024 12:00:00 GMT"
    stale = document_reply(path, "ABC", "OLD", now=NOW)
    assert (stale.status, stale.headers["Location"]) == (
        301,
        "/openapi/v3/apis/stable.example.com/v1?hash=ABC",
    )
    plain = document_reply(path, "ABC", None, now=NOW)
    assert plain.status == 200 and "Cache-Control" not in plain.headers
    assert document_reply(path, "ABC", None, now=NOW, if_none_match='"ABC"').status == 304


@pytest.mark.parametrize(
    ("accept", "ok"),
    [
        ("", True),
        ("application/json", True),
        ("application/json, */*", True),
        ("application/com.github.proto-openapi.spec.v3.v1.0+protobuf", False),
    ],
)
def test_only_json_is_offered(accept: str, ok: bool) -> None:
    assert accepts_json(accept) is ok


# -- real kubectl against a tiny server -----------------------------------------------


def _discovery_app(state: TinyServer) -> Starlette:
    group_version = f"{GROUP}/{VERSION}"

    async def handle(request: Request) -> Response:
        path = request.url.path.rstrip("/")
        query = request.url.query
        state.requests.append(f"{path}?{query}" if query else path)
        if path == "/version":
            return JSONResponse({"major": "1", "minor": "31", "gitVersion": "v1.31.0"})
        if path == "/api":
            return JSONResponse({"kind": "APIVersions", "versions": ["v1"]})
        if path == "/api/v1":
            return JSONResponse({"kind": "APIResourceList", "groupVersion": "v1", "resources": []})
        group = {
            "name": GROUP,
            "versions": [{"groupVersion": group_version, "version": VERSION}],
            "preferredVersion": {"groupVersion": group_version, "version": VERSION},
        }
        if path == "/apis":
            return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})
        if path == f"/apis/{GROUP}":
            return JSONResponse({"kind": "APIGroup", "apiVersion": "v1", **group})
        if path == f"/apis/{group_version}":
            return JSONResponse(
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": group_version,
                    "resources": [
                        {
                            "name": "crontabs",
                            "singularName": "crontab",
                            "namespaced": True,
                            "kind": "CronTab",
                            "verbs": ["get", "list", "create", "patch", "delete"],
                            "shortNames": ["ct"],
                        }
                    ],
                }
            )
        if path == "/openapi/v2":
            return Response(b"", media_type="application/octet-stream")
        if path == "/openapi/v3" and state.serve_v3:
            return JSONResponse(index(state.documents))
        key = path.removeprefix("/openapi/v3/")
        if state.serve_v3 and key in state.documents:
            data = document_bytes(state.documents[key])
            reply = document_reply(
                key, document_hash(data), request.query_params.get("hash"), now=datetime.now(UTC)
            )
            return Response(data if reply.status == 200 else b"", reply.status, reply.headers)
        prefix = f"/apis/{group_version}/namespaces/default/crontabs"
        if path.startswith(prefix):
            return await _crontabs(request, path.removeprefix(prefix).strip("/"), state)
        return _not_found()

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST", "PATCH"])])


def _not_found() -> Response:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
    return JSONResponse({**status, "reason": "NotFound", "message": "not found"}, 404)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


async def _crontabs(request: Request, name: str, state: TinyServer) -> Response:
    """Just enough of a crontab store for kubectl apply: get, create, merge-patch."""
    if request.method == "POST" and not name:
        obj = json.loads(await request.body())
        obj["metadata"] |= {"namespace": "default", "uid": "u1", "resourceVersion": "1"}
        state.crontabs[obj["metadata"]["name"]] = obj
        return JSONResponse(obj, 201)
    if name not in state.crontabs:
        return _not_found()
    if request.method == "PATCH":
        media_type = request.headers.get("content-type", "")
        state.patch_types.append(media_type)
        if media_type != "application/merge-patch+json":
            return JSONResponse(
                {"kind": "Status", "code": 415, "reason": "UnsupportedMediaType"}, 415
            )
        state.crontabs[name] = _merge(state.crontabs[name], json.loads(await request.body()))
    return JSONResponse(state.crontabs[name])


@dataclass
class TinyServer:
    url: str = ""
    serve_v3: bool = True
    documents: dict[str, Any] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    patch_types: list[str] = field(default_factory=list)
    crontabs: dict[str, Any] = field(default_factory=dict)


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, message="the tiny server did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def tiny_server() -> Iterator[TinyServer]:
    state = TinyServer(documents={f"apis/{GROUP}/{VERSION}": crontab_document()})
    with serving(_discovery_app(state)) as url:
        state.url = url
        yield state


@pytest.fixture
def proxied_api(sqlite_api: RunningAPI) -> Iterator[TinyServer]:
    state = TinyServer(documents={f"apis/{GROUP}/{VERSION}": crontab_document()})
    with serving(_proxy_app(state, sqlite_api)) as url:
        state.url = url
        yield state


def run_kubectl(binary: str, server: TinyServer, tmp_path: Path, *args: str) -> tuple[int, str]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "tiny", "cluster": {"server": server.url}}],
                "users": [{"name": "tiny", "user": {}}],
                "contexts": [
                    {
                        "name": "tiny",
                        "context": {"cluster": "tiny", "user": "tiny", "namespace": "default"},
                    }
                ],
                "current-context": "tiny",
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


KUBECTLS = [
    pytest.param("kubectl", id="kubectl-1.31"),
    pytest.param(KUBECTL_127, id="kubectl-1.27"),
]


def require_kubectl(binary: str) -> None:
    require_engine("kubectl", shutil.which(binary) is not None, f"{binary} not installed")


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_explain_shows_fields_and_descriptions(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    code, out = run_kubectl(binary, tiny_server, tmp_path, "explain", "crontabs.spec")
    assert code == 0, out
    assert "GROUP:      stable.example.com" in out
    assert "KIND:       CronTab" in out
    assert "FIELD: spec <Object>" in out
    assert "Desired state of the CronTab." in out
    assert "cronSpec\t<string> -required-" in out
    assert "Schedule in cron format, such as */5 * * * *." in out
    assert "replicas\t<integer>" in out
    assert "How many copies run at once." in out
    assert any(r.startswith(f"/openapi/v3/apis/{GROUP}/{VERSION}") for r in tiny_server.requests)


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_explain_recursive_follows_object_meta(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    code, out = run_kubectl(binary, tiny_server, tmp_path, "explain", "crontab", "--recursive")
    assert code == 0, out
    assert "CronTab runs a container image on a schedule." in out
    lines = [line.rstrip() for line in out.splitlines()]
    for expected in (
        "  apiVersion\t<string>",
        "  metadata\t<ObjectMeta>",
        "    creationTimestamp\t<string>",
        "    managedFields\t<[]ManagedFieldsEntry>",
        "      fieldsV1\t<FieldsV1>",
        "    ownerReferences\t<[]OwnerReference>",
        "      uid\t<string> -required-",
        "  spec\t<Object>",
        "    cronSpec\t<string> -required-",
        "    template\t<Object>",
        "      apiVersion\t<string> -required-",
        "  status\t<Object>",
    ):
        assert expected in lines, (expected, out)


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_explain_metadata_field_reads_the_referenced_schema(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    code, out = run_kubectl(binary, tiny_server, tmp_path, "explain", "ct.metadata.labels")
    assert code == 0, out
    assert "FIELD: labels <map[string]string>" in out
    assert "Key/value pairs for organising and selecting objects." in out


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_explain_without_the_group_version_says_so(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    tiny_server.documents = {"apis/other.example.com/v1": {"paths": {}}}
    code, out = run_kubectl(binary, tiny_server, tmp_path, "explain", "crontabs")
    assert code != 0
    assert 'couldn\'t find resource for "stable.example.com/v1, Resource=crontabs"' in out


# -- built-in kinds when /openapi/v3 lists only custom groups -------------------------


def _proxy_app(state: TinyServer, api: RunningAPI) -> Starlette:
    """Serve /openapi/v3 (custom groups only) in front of the real API server."""

    async def handle(request: Request) -> Response:
        path = request.url.path
        state.requests.append(f"{request.method} {path}?{request.url.query}")
        if path == "/openapi/v3":
            return JSONResponse(index(state.documents))
        if path.startswith("/openapi/v3/"):
            key = path.removeprefix("/openapi/v3/")
            if key not in state.documents:
                return JSONResponse({"kind": "Status", "code": 404}, 404)
            data = document_bytes(state.documents[key])
            reply = document_reply(
                key, document_hash(data), request.query_params.get("hash"), now=datetime.now(UTC)
            )
            return Response(data if reply.status == 200 else b"", reply.status, reply.headers)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("accept", "content-type", "user-agent")
        }
        headers["Authorization"] = f"Bearer {api.token}"
        verify = ssl.create_default_context(cafile=str(api.ca))
        async with httpx.AsyncClient(base_url=api.url, verify=verify, timeout=30) as client:
            answer = await client.request(
                request.method,
                path,
                params=request.query_params.multi_items(),
                content=await request.body(),
                headers=headers,
            )
        state.patch_types.extend(
            [headers.get("content-type", "")] if request.method == "PATCH" else []
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() == "content-type"}
        return Response(answer.content, answer.status_code, kept)

    return Starlette(
        routes=[Route("/{path:path}", handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    )


CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  colour: {colour}
"""


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_apply_of_a_builtin_kind_works_when_v3_lists_only_custom_groups(
    binary: str, proxied_api: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIGMAP.format(colour="blue"))
    code, out = run_kubectl(binary, proxied_api, tmp_path, "apply", "-f", str(manifest))
    assert (code, out.strip()) == (0, "configmap/settings created"), out
    manifest.write_text(CONFIGMAP.format(colour="green"))
    code, out = run_kubectl(binary, proxied_api, tmp_path, "apply", "-f", str(manifest))
    assert (code, out.strip()) == (0, "configmap/settings configured"), out
    assert proxied_api.patch_types == ["application/strategic-merge-patch+json"]
    assert any(r.startswith("GET /openapi/v3?") for r in proxied_api.requests)


# -- kubectl apply of a custom resource ----------------------------------------------


CRONTAB_MANIFEST = """
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
  namespace: default
spec:
  cronSpec: "{schedule}"
"""


def apply_crontab_twice(binary: str, server: TinyServer, tmp_path: Path) -> tuple[int, str]:
    manifest = tmp_path / "ct.yaml"
    manifest.write_text(CRONTAB_MANIFEST.format(schedule="0 1 * * *"))
    code, out = run_kubectl(binary, server, tmp_path, "apply", "-f", str(manifest))
    assert (code, out.strip()) == (0, "crontab.stable.example.com/nightly created"), out
    manifest.write_text(CRONTAB_MANIFEST.format(schedule="0 2 * * *"))
    return run_kubectl(binary, server, tmp_path, "apply", "-f", str(manifest))


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_apply_of_a_custom_resource_sends_a_merge_patch(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    code, out = apply_crontab_twice(binary, tiny_server, tmp_path)
    assert (code, out.strip()) == (0, "crontab.stable.example.com/nightly configured"), out
    assert tiny_server.patch_types == ["application/merge-patch+json"]
    assert tiny_server.crontabs["nightly"]["spec"] == {"cronSpec": "0 2 * * *"}


@pytest.mark.kubectl
def test_advertising_strategic_merge_would_make_kubectl_send_it(
    tiny_server: TinyServer, tmp_path: Path
) -> None:
    """Why PATCH lists no strategic-merge-patch: kubectl >= 1.29 believes the document."""
    require_kubectl("kubectl")
    document = crontab_document()
    for entry in document["paths"].values():
        if "patch" in entry:
            content = entry["patch"]["requestBody"]["content"]
            content["application/strategic-merge-patch+json"] = content[PATCH_TYPES[0]]
    tiny_server.documents = {f"apis/{GROUP}/{VERSION}": document}
    code, _ = apply_crontab_twice("kubectl", tiny_server, tmp_path)
    assert code != 0
    assert tiny_server.patch_types == ["application/strategic-merge-patch+json"]


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_fetches_the_document_by_the_hash_url_of_the_index(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    code, out = run_kubectl(binary, tiny_server, tmp_path, "explain", "crontabs")
    assert code == 0, out
    digest = document_hash(crontab_document())
    wanted = f"/openapi/v3/apis/{GROUP}/{VERSION}?hash={digest}"
    assert any(r.startswith(wanted) for r in tiny_server.requests), tiny_server.requests


@pytest.mark.kubectl
@pytest.mark.parametrize("binary", KUBECTLS)
def test_without_openapi_v3_kubectl_explain_falls_back_to_v2(
    binary: str, tiny_server: TinyServer, tmp_path: Path
) -> None:
    require_kubectl(binary)
    tiny_server.serve_v3 = False
    code, out = run_kubectl(binary, tiny_server, tmp_path, "explain", "crontabs")
    assert code != 0
    assert 'couldn\'t find resource for "stable.example.com/v1, Kind=CronTab"' in out
    assert "/openapi/v2?timeout=32s" in tiny_server.requests
