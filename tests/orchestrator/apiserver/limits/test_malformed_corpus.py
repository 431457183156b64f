"""Every input the issue and the reference list as hurting the server, each with its answer.

Each case is sent to a real API server and must get its 4xx Status with the
words that say what is wrong, and leave the store as it was (same list
resourceVersion of every kind the cases touch). The server runs on SQLite, then
on etcd (``limits_store``): a refusal must change nothing on either store.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from protobuf_bodies import envelope, field, schema_nested, varint
from support.apiserver import RunningAPI, start_api

NS = "/api/v1/namespaces/default"
CMS, PODS = f"{NS}/configmaps", f"{NS}/pods"
DEPS = "/apis/apps/v1/namespaces/default/deployments"
JSON, YAML = "application/json", "application/yaml"
JSON_PATCH, MERGE = "application/json-patch+json", "application/merge-patch+json"


def _pod(name: str, **container: object) -> bytes:
    spec = {"containers": [{"name": "c", "image": "x", **container}]}
    return json.dumps({"metadata": {"name": name}, "spec": spec}).encode()


def _token(start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _laughs(levels: int) -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in itertools.pairwise("abcdefghijklmnop"[: levels + 1]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines).encode()


def _copy_bomb(copies: int) -> bytes:
    ops = [{"op": "add", "path": "/data/seed", "value": "x" * 40}]
    ops += [{"op": "copy", "from": "/data", "path": f"/data/c{i}"} for i in range(copies)]
    return json.dumps(ops).encode()


def _nesting_by_moves(levels: int) -> bytes:
    ops: list[dict[str, object]] = [{"op": "add", "path": "/metadata/labels", "value": {}}]
    for _ in range(levels):
        ops.append({"op": "add", "path": "/n", "value": {}})
        ops.append({"op": "move", "from": "/data", "path": "/n/d"})
        ops.append({"op": "move", "from": "/n", "path": "/data"})
    return json.dumps(ops).encode()


_TEST_OPS = json.dumps([{"op": "test", "path": "/data", "value": {}}] * 10001).encode()
_MAX_OPS = "The allowed maximum operations in a JSON patch is 10000, got 10001"

# (id, method, path, body, content type, status, words in the message)
CASES = [
    (
        "apiVersion-number",
        "POST",
        CMS,
        b'{"apiVersion":123,"kind":"ConfigMap","metadata":{"name":"x"}}',
        JSON,
        400,
        "apiVersion",
    ),
    (
        "integer-5000-digits",
        "POST",
        CMS,
        b'{"metadata":{"name":"x"},"data":{"a":' + b"1" * 5000 + b"}}",
        JSON,
        400,
        "out of range",
    ),
    (
        "number-beyond-float64",
        "POST",
        CMS,
        b'{"metadata":{"name":"x"},"n":1e400}',
        JSON,
        400,
        "out of range",
    ),
    (
        "lone-surrogate-in-data",
        "POST",
        CMS,
        b'{"metadata":{"name":"x"},"data":{"a":"\\ud800"}}',
        JSON,
        400,
        "surrogate",
    ),
    ("yaml-set", "POST", CMS, b"metadata: {name: x}\ndata: !!set {a, b}\n", YAML, 400, "!!set"),
    (
        "yaml-binary",
        "POST",
        CMS,
        b"metadata: {name: x}\ndata: {a: !!binary aGVsbG8=}\n",
        YAML,
        400,
        "!!binary",
    ),
    ("yaml-null-key", "POST", CMS, b"metadata: {name: x}\ndata: {null: a}\n", YAML, 400, "map key"),
    ("yaml-list-key", "POST", CMS, b"metadata: {name: x}\ndata: {[1]: a}\n", YAML, 400, "map key"),
    ("yaml-infinity", "POST", CMS, b"metadata: {name: x}\nn: .inf\n", YAML, 400, ".inf"),
    (
        "yaml-python-tag",
        "POST",
        CMS,
        b"metadata: {name: x}\nn: !!python/object:os.system {}\n",
        YAML,
        400,
        "constructor",
    ),
    (
        "json-depth-500",
        "POST",
        CMS,
        b'{"metadata":{"name":"x"},"x":' + b"[" * 500 + b"]" * 500 + b"}",
        JSON,
        400,
        "exceeded max depth",
    ),
    ("json-depth-1m", "POST", CMS, b"[" * 1_000_000, JSON, 400, "exceeded max depth"),
    (
        "yaml-flow-depth-500",
        "POST",
        CMS,
        b"metadata: {name: x}\nx: " + b"[" * 500 + b"]" * 500,
        YAML,
        400,
        "depth",
    ),
    (
        "yaml-block-depth-500",
        "POST",
        CMS,
        b"metadata: {name: x}\nx:\n  " + b"- " * 500 + b"1\n",
        YAML,
        400,
        "exceeded max depth",
    ),
    ("yaml-billion-laughs", "POST", CMS, _laughs(9), YAML, 400, "excessive aliasing"),
    (
        "apply-billion-laughs",
        "PATCH",
        f"{CMS}/base?fieldManager=t",
        _laughs(8),
        "application/apply-patch+yaml",
        400,
        "excessive aliasing",
    ),
    (
        "spec-containers-object",
        "POST",
        PODS,
        b'{"metadata":{"name":"x"},"spec":{"containers":{"a":1}}}',
        JSON,
        422,
        "spec.containers",
    ),
    ("metadata-list", "POST", CMS, b'{"metadata":[1]}', JSON, 400, "metadata"),
    (
        "cpu-1e999999",
        "POST",
        PODS,
        _pod("x", resources={"requests": {"cpu": "1e999999"}}),
        JSON,
        422,
        "resources.requests[cpu]",
    ),
    (
        "memory-beyond-int64",
        "POST",
        PODS,
        _pod("x", resources={"limits": {"memory": "9999999999Ei"}}),
        JSON,
        422,
        "resources.limits[memory]",
    ),
    (
        "preconditions-number",
        "DELETE",
        f"{CMS}/base",
        b'{"preconditions": 5}',
        JSON,
        400,
        "DeleteOptions.preconditions",
    ),
    (
        "grace-string",
        "DELETE",
        f"{PODS}/bound",
        b'{"gracePeriodSeconds": "abc"}',
        JSON,
        400,
        "DeleteOptions.gracePeriodSeconds",
    ),
    (
        "grace-list",
        "DELETE",
        f"{PODS}/bound",
        b'{"gracePeriodSeconds": [1]}',
        JSON,
        400,
        "DeleteOptions.gracePeriodSeconds",
    ),
    (
        "grace-1e20",
        "DELETE",
        f"{PODS}/bound",
        b'{"gracePeriodSeconds": 1e20}',
        JSON,
        400,
        "DeleteOptions.gracePeriodSeconds",
    ),
    (
        "grace-query-huge",
        "DELETE",
        f"{PODS}/bound?gracePeriodSeconds=" + "9" * 30,
        b"",
        JSON,
        400,
        "gracePeriodSeconds",
    ),
    (
        "binding-target-list",
        "POST",
        f"{PODS}/free/binding",
        b'{"metadata":{"name":"free"},"target":[1]}',
        JSON,
        400,
        "Binding.target",
    ),
    (
        "binding-target-name-number",
        "POST",
        f"{PODS}/free/binding",
        b'{"metadata":{"name":"free"},"target":{"name":5}}',
        JSON,
        400,
        "target.name",
    ),
    (
        "json-patch-21-copies",
        "PATCH",
        f"{CMS}/base",
        _copy_bomb(21),
        JSON_PATCH,
        422,
        "Unable to complete the copy",
    ),
    ("json-patch-10001-ops", "PATCH", f"{CMS}/base", _TEST_OPS, JSON_PATCH, 413, _MAX_OPS),
    (
        "json-patch-nesting-by-moves",
        "PATCH",
        f"{CMS}/base",
        _nesting_by_moves(300),
        JSON_PATCH,
        422,
        "max depth",
    ),
    (
        "merge-patch-depth-500",
        "PATCH",
        f"{CMS}/base",
        b'{"x":' + b"[" * 500 + b"]" * 500 + b"}",
        MERGE,
        400,
        "exceeded max depth",
    ),
    (
        "scale-spec-list",
        "PATCH",
        f"{DEPS}/dep/scale",
        b'{"spec": [null]}',
        MERGE,
        400,
        "Scale.spec",
    ),
    (
        "scale-replicas-beyond-int32",
        "PATCH",
        f"{DEPS}/dep/scale",
        b'{"spec": {"replicas": 4294967296}}',
        MERGE,
        422,
        "spec.replicas",
    ),
    (
        "yaml-beyond-512k",
        "POST",
        CMS,
        b"metadata: {name: x}\ndata:\n" + b"".join(b"  k%d: v\n" % i for i in range(60000)),
        YAML,
        413,
        "a YAML body may be at most",
    ),
    ("list-limit-10e30", "GET", f"{CMS}?limit=1" + "0" * 30, None, None, 400, "limit"),
    ("list-limit-superscript", "GET", f"{CMS}?limit=%C2%B2", None, None, 400, "limit"),
    (
        "watch-timeout-400-digits",
        "GET",
        f"{CMS}?watch=1&timeoutSeconds=" + "9" * 400,
        None,
        None,
        400,
        "timeoutSeconds",
    ),
    (
        "list-rv-superscript",
        "GET",
        f"{CMS}?resourceVersion=%C2%B2",
        None,
        None,
        400,
        "resourceVersion",
    ),
    (
        "watch-rv-superscript",
        "GET",
        f"{CMS}?watch=1&resourceVersion=%C2%B2",
        None,
        None,
        400,
        "resourceVersion",
    ),
    (
        "continue-lone-surrogate",
        "GET",
        f"{CMS}?limit=1&continue=" + _token("\ud800"),
        None,
        None,
        400,
        "continue",
    ),
    (
        "log-tail-superscript",
        "GET",
        f"{PODS}/bound/log?tailLines=%C2%B2",
        None,
        None,
        400,
        "tailLines",
    ),
]


PB = "application/vnd.kubernetes.protobuf"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _pb_cm(meta: bytes) -> bytes:
    return envelope("v1", "ConfigMap", field(1, field(1, b"pbx") + meta))


def _pb_crd(schema_depth: int) -> bytes:
    version = field(1, b"v1") + field(4, field(1, schema_nested(schema_depth)))
    spec = field(1, b"g.example.com") + field(7, version)
    return envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", field(2, spec))


def _pb_pod_commands(count: int) -> bytes:
    container = field(1, b"c") + field(2, b"x") + field(3, b"") * count  # command: ""
    return envelope("v1", "Pod", field(1, field(1, b"pbx")) + field(2, field(2, container)))


# Protobuf bodies (kubectl 1.32+): what the fuzzing of protobuf_bodies found, and its limits.
CASES += [
    ("pb-only-magic", "POST", CMS, b"k8s\x00", PB, 400, "only the prefix"),
    ("pb-no-magic", "POST", CMS, b"\x0a\x00", PB, 400, "expected prefix [107 56 115 0]"),
    (
        "pb-kind-not-the-urls",
        "POST",
        CMS,
        envelope("v1", "Secret", field(1, field(1, b"pbx"))),
        PB,
        400,
        "the kind of the object (Secret) does not match the URL (ConfigMap)",
    ),
    ("pb-varint-11-bytes", "POST", CMS, _pb_cm(b"\x38" + b"\xff" * 11), PB, 400, "varint"),
    (
        "pb-length-past-the-end",
        "POST",
        CMS,
        _pb_cm(b"\x0a" + varint(2**40)),
        PB,
        400,
        "runs past the end of its message",
    ),
    (
        "pb-time-past-year-9999",
        "POST",
        CMS,
        _pb_cm(field(8, b"\x08" + varint(2**62))),
        PB,
        400,
        "creationTimestamp: Time.MarshalJSON: year outside of range [0,9999]",
    ),
    (
        "pb-fieldsV1-not-json",
        "POST",
        CMS,
        _pb_cm(field(17, field(7, field(1, b"{")))),
        PB,
        400,
        "fieldsV1: raw JSON is not valid",
    ),
    (
        "pb-fieldsV1-nested-150",
        "POST",
        CMS,
        _pb_cm(field(17, field(7, field(1, b"[" * 150 + b"]" * 150)))),
        PB,
        400,
        "exceeded max depth of 100",
    ),
    ("pb-schema-nested-60", "POST", CRDS, _pb_crd(60), PB, 400, "exceeded max depth of 100"),
    ("pb-schema-nested-3000", "POST", CRDS, _pb_crd(3000), PB, 400, "nested too deeply"),
    (
        "pb-3MiB-of-empty-commands",
        "POST",
        PODS,
        _pb_pod_commands(1_500_000),
        PB,
        413,
        "bytes in protobuf, the limit is 1572864",
    ),
    (
        "pb-1.4MiB-of-empty-commands",  # within the protobuf limit; its JSON is 2.2 MiB
        "POST",
        PODS,
        _pb_pod_commands(700_000),
        PB,
        413,
        "Request entity too large: the object is",
    ),
    (
        "pb-delete-options-not-utf8",
        "DELETE",
        f"{CMS}/base",
        envelope("v1", "DeleteOptions", field(2, field(1, b"\xff"))),
        PB,
        400,
        "preconditions: uid: string is not valid UTF-8",
    ),
    (
        "pb-binding-kind-not-binding",
        "POST",
        f"{PODS}/free/binding",
        envelope("v1", "Pod", field(1, field(1, b"free"))),
        PB,
        400,
        "the kind of the object (Pod) does not match the URL (Binding)",
    ),
]


@pytest.fixture(scope="module")
def corpus_api(tmp_path_factory: pytest.TempPathFactory, limits_store: str) -> Iterator[RunningAPI]:
    api = start_api(Path(tmp_path_factory.mktemp("corpus")) / "api", limits_store)
    try:
        with api.http() as http:
            http.post(CMS, json={"metadata": {"name": "base"}, "data": {"a": "b"}})
            http.post(PODS, content=_pod("free"), headers={"Content-Type": JSON})
            bound = json.loads(_pod("bound"))
            bound["spec"]["nodeName"] = "n1"
            http.post(PODS, json=bound)
            template = {"spec": {"containers": [{"name": "c", "image": "x"}]}}
            template["metadata"] = {"labels": {"a": "b"}}
            spec = {"selector": {"matchLabels": {"a": "b"}}, "template": template}
            http.post(DEPS, json={"metadata": {"name": "dep"}, "spec": spec})
        yield api
    finally:
        api.stop()


def _versions(http: httpx.Client) -> tuple[str, str]:
    return tuple(  # type: ignore[return-value]
        http.get(path).json()["metadata"]["resourceVersion"] for path in (CMS, PODS)
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_malformed_input_is_answered_4xx_naming_the_problem_and_changes_nothing(
    corpus_api: RunningAPI,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
    status: int,
    words: str,
) -> None:
    with corpus_api.http() as http:
        before = _versions(http)
        headers = {"Content-Type": content_type} if content_type else {}
        r = http.request(method, path, content=body, headers=headers)
        assert r.status_code == status, r.text[:500]
        answer = r.json()
        assert answer["kind"] == "Status" and answer["code"] == status
        assert words in answer["message"], answer["message"][:500]
        assert _versions(http) == before


def test_yaml_scalar_keys_and_dates_become_strings_as_kubernetes_converts_them(
    corpus_api: RunningAPI,
) -> None:
    body = b"metadata: {name: yamlkeys}\ndata: {1: one, 1.5: x, true: yes-key, day: 2001-01-01}\n"
    with corpus_api.http() as http:
        r = http.post(CMS, content=body, headers={"Content-Type": YAML})
        assert r.status_code == 201, r.text
        assert r.json()["data"] == {"1": "one", "1.5": "x", "true": "yes-key", "day": "2001-01-01"}
        http.delete(f"{CMS}/yamlkeys")


def test_yaml_aliases_within_the_limits_are_expanded_into_separate_values(
    corpus_api: RunningAPI,
) -> None:
    body = b"metadata: {name: aliased, labels: &l {a: b}}\ndata: *l\n"
    with corpus_api.http() as http:
        r = http.post(CMS, content=body, headers={"Content-Type": YAML})
        assert r.status_code == 201, r.text
        assert r.json()["data"] == {"a": "b"}
        http.delete(f"{CMS}/aliased")


def test_nesting_at_the_limit_is_stored_and_read_back(corpus_api: RunningAPI) -> None:
    deep: object = "leaf"
    for _ in range(98):  # the object itself and "x" make 100 levels
        deep = [deep]
    with corpus_api.http() as http:
        r = http.post(CMS, json={"metadata": {"name": "deep"}, "x": deep})
        assert r.status_code == 201, r.text[:300]
        assert http.get(f"{CMS}/deep").json()["x"] == deep
        http.delete(f"{CMS}/deep")
