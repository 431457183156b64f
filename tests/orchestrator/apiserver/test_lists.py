"""List options: label and field selectors, paging, resourceVersion=0, and Tables."""

from __future__ import annotations

import httpx
from support.apiserver import RunningAPI

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def names(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {o["metadata"]["name"] for o in r.json()["items"]}


LABEL_CASES = [
    ("tier=web", {"a", "c"}),
    ("tier==web", {"a", "c"}),
    ("tier!=web", {"b", "d"}),
    ("tier in (web,db)", {"a", "b", "c"}),
    ("tier notin (web)", {"b", "d"}),
    ("env", {"a", "b"}),
    ("!env", {"c", "d"}),
    ("tier=web,env=prod", {"a"}),
]


def test_label_selectors(api: RunningAPI) -> None:
    with api.http() as http:
        for name, labels in (
            ("a", {"tier": "web", "env": "prod"}),
            ("b", {"tier": "db", "env": "prod"}),
            ("c", {"tier": "web"}),
            ("d", {}),
        ):
            r = http.post(CONFIGMAPS, json={"metadata": {"name": name, "labels": labels}})
            assert r.status_code == 201
        for selector, expected in LABEL_CASES:
            got = names(http.get(CONFIGMAPS, params={"labelSelector": selector}))
            assert got == expected, selector


def test_field_selector_on_name_and_namespace(api: RunningAPI) -> None:
    with api.http() as http:
        http.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
        for ns, name in (("default", "x"), ("default", "y"), ("other", "x")):
            http.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": name}})
        assert names(http.get(CONFIGMAPS, params={"fieldSelector": "metadata.name=x"})) == {"x"}
        assert names(http.get(CONFIGMAPS, params={"fieldSelector": "metadata.name!=x"})) == {"y"}
        everywhere = http.get(
            "/api/v1/configmaps", params={"fieldSelector": "metadata.namespace=other"}
        ).json()
        assert [
            (o["metadata"]["namespace"], o["metadata"]["name"]) for o in everywhere["items"]
        ] == [("other", "x")]


def test_field_selector_on_node_name_and_phase(api: RunningAPI) -> None:
    pod = {"metadata": {"name": ""}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    with api.http() as http:
        for name in ("p1", "p2"):
            pod["metadata"]["name"] = name
            assert http.post(PODS, json=pod).status_code == 201
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "p1"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
        }
        assert http.post(f"{PODS}/p1/binding", json=binding).status_code == 201
        running = http.get(f"{PODS}/p2").json()
        running["status"]["phase"] = "Running"
        assert http.put(f"{PODS}/p2/status", json=running).status_code == 200
        assert names(http.get(PODS, params={"fieldSelector": "spec.nodeName=node-1"})) == {"p1"}
        assert names(http.get(PODS, params={"fieldSelector": "spec.nodeName="})) == {"p2"}
        assert names(http.get(PODS, params={"fieldSelector": "status.phase=Running"})) == {"p2"}
        assert names(http.get(PODS, params={"fieldSelector": "status.phase!=Running"})) == {"p1"}


def test_unsupported_field_selector_is_bad_request(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.get(CONFIGMAPS, params={"fieldSelector": "spec.color=red"})
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"
    assert "spec.color" in r.json()["message"]


def test_paging_visits_every_item_once(api: RunningAPI) -> None:
    with api.http() as http:
        for i in range(7):
            http.post(
                CONFIGMAPS,
                json={"metadata": {"name": f"cm-{i}", "labels": {"odd": str(i % 2 == 1).lower()}}},
            )
        seen: list[str] = []
        pages = 0
        token = ""
        while True:
            params = {"limit": "3", **({"continue": token} if token else {})}
            body = http.get(CONFIGMAPS, params=params).json()
            pages += 1
            assert len(body["items"]) <= 3
            seen += [o["metadata"]["name"] for o in body["items"]]
            token = body["metadata"].get("continue", "")
            if not token:
                break
        assert sorted(seen) == [f"cm-{i}" for i in range(7)]
        assert pages == 3
        odd: list[str] = []
        token = ""
        while True:
            params = {
                "limit": "2",
                "labelSelector": "odd=true",
                **({"continue": token} if token else {}),
            }
            body = http.get(CONFIGMAPS, params=params).json()
            odd += [o["metadata"]["name"] for o in body["items"]]
            token = body["metadata"].get("continue", "")
            if not token:
                break
        assert sorted(odd) == ["cm-1", "cm-3", "cm-5"]


def test_zero_or_negative_limit_means_no_limit(api: RunningAPI) -> None:
    with api.http() as http:
        for name in ("a", "b", "c"):
            http.post(CONFIGMAPS, json={"metadata": {"name": name}})
        for limit in ("0", "-1"):
            body = http.get(CONFIGMAPS, params={"limit": limit}).json()
            assert len(body["items"]) == 3
            assert "continue" not in body["metadata"]


def test_paging_is_not_confused_by_writes_between_pages(api: RunningAPI) -> None:
    with api.http() as http:
        for name in ("a", "b", "c", "d"):
            http.post(CONFIGMAPS, json={"metadata": {"name": name}})
        first = http.get(CONFIGMAPS, params={"limit": "2"}).json()
        http.delete(f"{CONFIGMAPS}/a")
        http.post(CONFIGMAPS, json={"metadata": {"name": "e"}})
        rest = http.get(
            CONFIGMAPS, params={"limit": "10", "continue": first["metadata"]["continue"]}
        ).json()
    got = [o["metadata"]["name"] for o in first["items"] + rest["items"]]
    assert got == ["a", "b", "c", "d"]  # every page at the first page's revision


def test_list_with_resource_version_zero_answers_current_state(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "a"}})
        created = http.post(CONFIGMAPS, json={"metadata": {"name": "b"}}).json()
        body = http.get(CONFIGMAPS, params={"resourceVersion": "0"}).json()
    assert {o["metadata"]["name"] for o in body["items"]} == {"a", "b"}
    assert int(body["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])


def test_list_resource_version_is_the_store_revision(api: RunningAPI) -> None:
    with api.http() as http:
        created = http.post(CONFIGMAPS, json={"metadata": {"name": "a"}}).json()
        body = http.get("/api/v1/namespaces").json()
    assert int(body["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])


def test_list_as_table_carries_partial_metadata_rows(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(
            CONFIGMAPS, json={"metadata": {"name": "cm", "labels": {"a": "b"}}, "data": {"k": "v"}}
        )
        table = http.get(CONFIGMAPS, headers={"Accept": TABLE}).json()
        full = http.get(
            CONFIGMAPS, headers={"Accept": TABLE}, params={"includeObject": "Object"}
        ).json()
        bare = http.get(
            CONFIGMAPS, headers={"Accept": TABLE}, params={"includeObject": "None"}
        ).json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert isinstance(table["metadata"]["resourceVersion"], str)
    row = table["rows"][0]
    assert row["cells"][:2] == ["cm", 1]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["labels"] == {"a": "b"}
    assert "data" not in row["object"]
    assert full["rows"][0]["object"]["data"] == {"k": "v"}
    assert full["rows"][0]["object"]["kind"] == "ConfigMap"
    assert "object" not in bare["rows"][0]


def test_table_paging_carries_the_continue_token(api: RunningAPI) -> None:
    with api.http() as http:
        for name in ("a", "b", "c"):
            http.post(CONFIGMAPS, json={"metadata": {"name": name}})
        table = http.get(CONFIGMAPS, headers={"Accept": TABLE}, params={"limit": "2"}).json()
    assert len(table["rows"]) == 2
    assert table["metadata"]["continue"]


def test_get_as_table_is_one_row(api: RunningAPI) -> None:
    with api.http() as http:
        http.post("/api/v1/namespaces", json={"metadata": {"name": "team"}})
        table = http.get("/api/v1/namespaces/team", headers={"Accept": TABLE}).json()
    assert table["kind"] == "Table"
    assert [r["cells"][:2] for r in table["rows"]] == [["team", "Active"]]
    assert table["rows"][0]["object"]["metadata"]["name"] == "team"
