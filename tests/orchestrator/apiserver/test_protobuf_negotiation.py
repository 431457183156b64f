"""Which answers go out in protobuf: only where the client ranks it above JSON."""

from __future__ import annotations

import pytest

from orchestrator.apiserver.wire import object_response, prefers_protobuf

PB = "application/vnd.kubernetes.protobuf"


@pytest.mark.parametrize(
    ("accept", "protobuf"),
    [
        (f"{PB},application/json", True),  # kubectl 1.32+ typed clients
        (PB, True),
        (f"application/json, {PB}", False),  # a tie goes to the first listed
        (f"{PB};q=0.5,application/json", False),
        (f"application/json;q=0.1,{PB}", True),
        ("application/json, */*", False),  # kubectl before 1.32, dynamic clients
        ("*/*", False),
        ("", False),
        (f"{PB};as=Table;v=v1;g=meta.k8s.io,application/json", False),  # a Table: JSON
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", False),
        (f"{PB};q=bogus,application/json", False),  # a bad q counts as 0
    ],
)
def test_accept_header_decides_protobuf(accept: str, protobuf: bool) -> None:
    assert prefers_protobuf(accept) is protobuf


def test_object_without_a_protobuf_form_is_answered_in_json() -> None:
    custom = {"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}}
    assert object_response(PB, custom).media_type == "application/json"
    table = {"apiVersion": "meta.k8s.io/v1", "kind": "Table", "rows": []}
    assert object_response(PB, table).media_type == "application/json"


def test_object_protobuf_cannot_hold_falls_back_to_json() -> None:
    odd = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}}
    assert object_response(PB, odd).media_type == "application/json"
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    response = object_response(PB, good, 201, ["careful"])
    assert (response.media_type, response.status_code) == (PB, 201)
    assert response.headers["warning"] == '299 - "careful"'
