"""Generated bodies and query strings against every verb: never a 5xx, a 4xx changes nothing.

Hypothesis builds JSON values shaped like objects (known field names with
values of any type), JSON patches of random operations, raw bytes and YAML,
and sends them to a real API server: create, update, the three patch types,
delete with options, list and watch with query parameters, and the binding,
status, scale and eviction subresources, on several kinds. Every answer must
be below 500; every refused request must leave the store's revision where it
was. The process's memory (the server runs in it) must stay bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from support.apiserver import RunningAPI, start_api

NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
COLLECTIONS = {
    "configmaps": f"{NS}/configmaps",
    "pods": f"{NS}/pods",
    "services": f"{NS}/services",
    "secrets": f"{NS}/secrets",
    "deployments": f"{APPS}/deployments",
}
FIELDS = [
    "apiVersion", "kind", "metadata", "spec", "status", "data", "stringData", "name",
    "namespace", "labels", "annotations", "resourceVersion", "finalizers", "containers",
    "image", "ports", "replicas", "selector", "template", "resources", "requests", "cpu",
    "memory", "target", "preconditions", "gracePeriodSeconds", "propagationPolicy", "op",
    "path", "from", "value", "$patch", "$setElementOrder/containers", "type", "nodeName",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "x", "v1", "apps/v1", "1e999999", "\ud800", "²", "100m", "-1"])
)
keys = st.sampled_from(FIELDS) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
objects = st.dictionaries(keys, values, max_size=6)
operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])},
    optional={
        "path": st.sampled_from(["", "/", "/data", "/data/a", "/metadata/name", "/spec/-"])
        | st.text(max_size=10),
        "from": st.sampled_from(["/data", "/metadata", "/spec", "/x"]),
        "value": values,
    },
)


def _encode(value: Any, how: str) -> bytes:
    if how == "yaml":
        try:
            return yaml.safe_dump(value).encode("utf-8", "surrogatepass")
        except yaml.YAMLError:
            return b"{"
    return json.dumps(value).encode()  # keeps \ud800 as an escape, as a client may send it


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    st.tuples(objects | values, st.sampled_from(["json", "yaml"])).map(
        lambda pair: (_encode(*pair), "application/yaml" if pair[1] == "yaml" else "")
    ),
    st.tuples(st.binary(max_size=60), st.sampled_from(["", "application/yaml"])),
)
query_values = st.text(max_size=12) | st.sampled_from(
    ["0", "1", "-1", "1" + "0" * 30, "²", "true", "Exact", "a=b", "metadata.name=x", "\ud800"]
)
queries = st.dictionaries(
    st.sampled_from(
        [
            "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
            "resourceVersionMatch", "timeoutSeconds", "allowWatchBookmarks", "dryRun",
            "fieldManager", "fieldValidation", "gracePeriodSeconds", "propagationPolicy",
            "force", "pretty",
        ]
    ),
    query_values,
    max_size=4,
)  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    api = start_api(Path(tmp_path_factory.mktemp("fuzz")) / "api")
    try:
        with api.http() as http:
            http.post(f"{NS}/configmaps", json={"metadata": {"name": "cm"}, "data": {"a": "b"}})
            http.post(
                f"{NS}/pods",
                json={
                    "metadata": {"name": "pod"},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            )
            http.post(
                f"{APPS}/deployments",
                json={
                    "metadata": {"name": "dep"},
                    "spec": {
                        "selector": {"matchLabels": {"a": "b"}},
                        "template": {
                            "metadata": {"labels": {"a": "b"}},
                            "spec": {"containers": [{"name": "c", "image": "x"}]},
                        },
                    },
                },
            )
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def http(fuzz_api: RunningAPI) -> Iterator[httpx.Client]:
    with fuzz_api.http() as client:
        yield client


def _revision(http: httpx.Client) -> str:
    return str(http.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


def _send(
    http: httpx.Client,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str,
    query: dict[str, str],
) -> None:
    before = _revision(http)
    headers = {"Content-Type": content_type} if content_type else {}
    params = httpx.QueryParams(
        {k: v.encode("utf-8", "surrogatepass").decode("latin-1") for k, v in query.items()}
    )
    with http.stream(method, path, content=body, headers=headers, params=params) as r:
        status = r.status_code
        text = b"" if "watch" in query or path.endswith("watch=1") else r.read()
    assert status < 500, f"{method} {path} {query} {body!r:.300} -> {status} {text!r:.300}"
    if status >= 400:
        assert _revision(http) == before, (
            f"{method} {path} {body!r:.200} -> {status} changed the store"
        )


@given(kind=st.sampled_from(sorted(COLLECTIONS)), body=bodies, query=queries)
def test_create_never_fails_with_5xx(http: httpx.Client, kind: str, body: Any, query: dict) -> None:
    _send(http, "POST", COLLECTIONS[kind], body[0], body[1], query)


@given(body=bodies, query=queries, target=st.sampled_from(["configmaps/cm", "pods/pod"]))
def test_update_never_fails_with_5xx(
    http: httpx.Client, body: Any, query: dict, target: str
) -> None:
    _send(http, "PUT", f"{NS}/{target}", body[0], body[1], query)


JSON_PATCH, MERGE = "application/json-patch+json", "application/merge-patch+json"
STRATEGIC, APPLY = "application/strategic-merge-patch+json", "application/apply-patch+yaml"
patches = st.one_of(
    st.tuples(st.lists(operations, max_size=6).map(_json), st.just(JSON_PATCH)),
    st.tuples(objects.map(_json), st.sampled_from([MERGE, STRATEGIC])),
    st.tuples(bodies.map(lambda b: b[0]), st.sampled_from([JSON_PATCH, MERGE, STRATEGIC, APPLY])),
)
patch_targets = st.sampled_from(
    [
        f"{NS}/configmaps/cm",
        f"{NS}/pods/pod",
        f"{NS}/pods/pod/status",
        f"{APPS}/deployments/dep",
        f"{APPS}/deployments/dep/scale",
    ]
)


@given(patch=patches, target=patch_targets, query=queries)
def test_patch_of_every_type_never_fails_with_5xx(
    http: httpx.Client, patch: tuple[bytes, str], target: str, query: dict
) -> None:
    query = {**query, "fieldManager": query.get("fieldManager") or "fuzz"}
    _send(http, "PATCH", target, patch[0], patch[1], query)


@given(
    options=objects | values,
    query=queries,
    target=st.sampled_from(["configmaps/absent", "pods/absent", "configmaps", "pods"]),
)
def test_delete_with_options_never_fails_with_5xx(
    http: httpx.Client, options: Any, query: dict, target: str
) -> None:
    # dry run: a valid delete must not remove the objects the other properties use
    _send(
        http,
        "DELETE",
        f"{NS}/{target}",
        json.dumps(options).encode(),
        "",
        {**query, "dryRun": "All"},
    )


@given(kind=st.sampled_from(sorted(COLLECTIONS)), query=queries, watch=st.booleans())
def test_list_and_watch_with_any_query_never_fail_with_5xx(
    http: httpx.Client, kind: str, query: dict, watch: bool
) -> None:
    if watch:
        query = {**query, "watch": "1"}
    _send(http, "GET", COLLECTIONS[kind], None, "", query)


@given(
    body=bodies,
    sub=st.sampled_from(["pods/pod/binding", "pods/pod/eviction", "pods/pod/status", "bindings"]),
    method=st.sampled_from(["POST", "PUT"]),
)
def test_subresources_never_fail_with_5xx(
    http: httpx.Client, body: Any, sub: str, method: str
) -> None:
    _send(
        http, method, f"{NS}/{sub}", body[0], body[1], {"dryRun": "All"} if method == "PUT" else {}
    )
