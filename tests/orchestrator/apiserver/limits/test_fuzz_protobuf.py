"""Generated protobuf bodies against every verb taking one: never a 5xx, refusals change nothing.

kubectl 1.32+ sends built-in kinds as ``application/vnd.kubernetes.protobuf``
(reference/kubectl-protobuf-and-streams.md §2). Hypothesis builds bodies
from real objects (``protobuf_bodies``: valid, mutated byte by byte, in the
wrong envelope, or random) and sends them to a real API server for create,
update, delete (DeleteOptions), and the binding, eviction and scale
subresources. Properties, per request:

- the answer is below 500;
- a refused request leaves the store's revision where it was;
- a request takes less than ``PEAK_MIB`` of memory at its peak and keeps
  less than ``KEPT_MIB`` after it;
- bytes that decode to an object are answered as that object sent as JSON
  is (the same status class), both meeting the same state: an object a
  create made is deleted again, and other verbs are compared as dry runs
  before the protobuf request is sent for real.

The server runs once on SQLite and once on etcd, with fewer examples there
(``_examples``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protobuf_bodies import bodies
from support.apiserver import RunningAPI, start_api

from orchestrator.api import errors
from orchestrator.api.jsoncodec import dumps
from orchestrator.api.protobuf import MEDIA_TYPE
from orchestrator.apiserver.wire import decode_body

NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
# What one request may take from the process (the server runs in it): at its peak, and kept
# after it. Measured per request, since hypothesis's own memory grows with the examples run
# (~200 MiB over 30,000). The largest generated bodies (5,000 empty messages) peak near 20.
PEAK_MIB, KEPT_MIB = 64, 16

CONTAINER = {
    "name": "c",
    "image": "x",
    "command": ["sh", "-c"],
    "ports": [{"containerPort": 80, "protocol": "TCP"}],
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    "env": [{"name": "A", "value": "1"}],
}
TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [CONTAINER]}}


def _objects(name: str) -> dict[str, dict[str, Any]]:
    """The base object of each body kind, named ``name``."""
    meta = {"name": name, "labels": {"app": "a"}, "annotations": {"k": "v"}}
    return {
        "ConfigMap": {"data": {"k": "v"}, "binaryData": {"b": "aGk="}},
        "Secret": {"type": "Opaque", "data": {"k": "dg=="}, "stringData": {"s": "t"}},
        "Pod": {"spec": {"containers": [CONTAINER], "restartPolicy": "Always"}},
        "Service": {
            "spec": {
                "selector": {"app": "a"},
                "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}],
            }
        },
        "Deployment": {
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "a"}},
                "template": TEMPLATE,
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            }
        },
        "Binding": {"target": {"kind": "Node", "name": "n1"}},
        "Scale": {"spec": {"replicas": 3}},
        "Eviction": {"deleteOptions": {"gracePeriodSeconds": 0}},
        "DeleteOptions": {"gracePeriodSeconds": 5, "propagationPolicy": "Background"},
    } | {"_meta": meta}  # type: ignore[return-value]


API_VERSIONS = {
    "Deployment": "apps/v1",
    "Scale": "autoscaling/v1",
    "Eviction": "policy/v1",
}

# (method, path, body kind, named: the body's name is the URL's, query)
TARGETS = [
    ("POST", f"{NS}/configmaps", "ConfigMap", "", {}),
    ("POST", f"{NS}/secrets", "Secret", "", {}),
    ("POST", f"{NS}/pods", "Pod", "", {}),
    ("POST", f"{NS}/services", "Service", "", {}),
    ("POST", f"{APPS}/deployments", "Deployment", "", {}),
    ("PUT", f"{NS}/configmaps/cm", "ConfigMap", "cm", {}),
    ("PUT", f"{NS}/pods/pod", "Pod", "pod", {}),
    ("PUT", f"{APPS}/deployments/dep", "Deployment", "dep", {}),
    ("DELETE", f"{NS}/configmaps/cm", "DeleteOptions", "", {"dryRun": "All"}),
    ("DELETE", f"{NS}/pods", "DeleteOptions", "", {"dryRun": "All"}),
    ("POST", f"{NS}/pods/pod/binding", "Binding", "pod", {}),
    ("POST", f"{NS}/bindings", "Binding", "pod", {}),
    ("POST", f"{NS}/pods/pod/eviction", "Eviction", "pod", {"dryRun": "All"}),
    ("PUT", f"{APPS}/deployments/dep/scale", "Scale", "dep", {}),
]


def _base(kind: str, name: str) -> dict[str, Any]:
    objects = _objects(name)
    meta = objects.pop("_meta")
    obj = {"apiVersion": API_VERSIONS.get(kind, "v1"), "kind": kind, **objects[kind]}
    if kind != "DeleteOptions":
        obj["metadata"] = meta
    return obj


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, bytes, dict[str, str]]:
    method, path, kind, named, query = draw(st.sampled_from(TARGETS))
    name = named or f"pb-{draw(st.integers(0, 10**6))}"
    return method, path, kind, draw(bodies(_base(kind, name))), query


def _memory_mib() -> tuple[float, float]:
    """The process's resident memory now, and its peak so far (VmHWM)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@pytest.fixture(scope="module")
def pb_api(tmp_path_factory: pytest.TempPathFactory, limits_store: str) -> Iterator[RunningAPI]:
    api = start_api(Path(tmp_path_factory.mktemp("fuzzpb")) / "api", limits_store)
    try:
        with api.http() as http:
            for path, obj in [
                (f"{NS}/configmaps", _base("ConfigMap", "cm")),
                (f"{NS}/pods", _base("Pod", "pod")),
                (f"{APPS}/deployments", _base("Deployment", "dep")),
            ]:
                assert http.post(path, json=obj).status_code == 201
        yield api
    finally:
        api.stop()


def _revision(http: httpx.Client) -> str:
    return str(http.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


def _as_json(body: bytes, kind: str) -> bytes | None:
    """The JSON of the object ``body`` decodes to, or None if the server refuses its bytes.

    Decoded by the server's own function: an exception other than an API error is the 500 the
    server would answer, so it fails here with its traceback."""
    try:
        return dumps(decode_body(body, MEDIA_TYPE, kind))
    except errors.APIError:
        return None


def _examples(store: str) -> int:
    """Ten times the profile's count on SQLite: an example takes ~10 ms, and a fault in the
    decoder shows in about one example in 70. The profile's count on etcd, where the
    decoding is the same code and what differs is how the store refuses and counts."""
    count = settings.default.max_examples
    return count * 10 if store == "sqlite" else count


COLLECTIONS = ("configmaps", "secrets", "pods", "services", "deployments")


def _send(
    http: httpx.Client, method: str, path: str, body: bytes, media: str, query: dict[str, str]
) -> httpx.Response:
    """Send; an object a create made is deleted again, so every request meets the same state."""
    r = http.request(method, path, content=body, params=query, headers={"Content-Type": media})
    if method == "POST" and path.endswith(COLLECTIONS) and r.status_code == 201:
        assert http.delete(f"{path}/{r.json()['metadata']['name']}").status_code == 200
    return r


def test_protobuf_bodies_are_answered_below_500_as_their_json_would_be(
    pb_api: RunningAPI, limits_store: str
) -> None:
    with pb_api.http() as http:

        @settings(max_examples=_examples(limits_store))
        @given(request=requests())
        def send(request: tuple[str, str, str, bytes, dict[str, str]]) -> None:
            method, path, kind, body, query = request
            as_json = _as_json(body, kind)
            # The two are compared as real creates, and as dry runs elsewhere (a dry run answers
            # some refused creates 201, and a real binding or update would change what the
            # second request meets).
            compared = query if path.endswith(COLLECTIONS) else {**query, "dryRun": "All"}
            if as_json is not None:
                json_status = _send(http, method, path, as_json, "application/json", compared)
                pb_status = _send(http, method, path, body, MEDIA_TYPE, compared)
                assert pb_status.status_code // 100 == json_status.status_code // 100, (
                    f"JSON {json_status.status_code} {json_status.text[:300]}, protobuf "
                    f"{pb_status.status_code} {pb_status.text[:300]}"
                )
            before = _revision(http)
            rss, peak = _memory_mib()
            r = _send(http, method, path, body, MEDIA_TYPE, query)
            rss_after, peak_after = _memory_mib()
            shown = f"{method} {path} {body[:300]!r} -> {r.status_code} {r.text[:300]}"
            assert r.status_code < 500, shown
            if r.status_code >= 400:
                assert _revision(http) == before, f"changed the store: {shown}"
            assert peak_after <= peak or peak_after - rss < PEAK_MIB, (
                f"peak +{peak_after - rss:.0f} MiB: {shown}"
            )
            assert rss_after - rss < KEPT_MIB, f"kept {rss_after - rss:.0f} MiB: {shown}"

        send()
