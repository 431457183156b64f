"""A CRD served in several versions (conversion None), one deprecated, one not served.

Objects are stored in the storage version and read through any served one;
fields a version's schema lacks are pruned when read or written through it;
a deprecated version warns on every request; discovery lists the versions in
Kubernetes' order with the highest first as the preferred one, whatever the
storage version is.
"""

from __future__ import annotations

from typing import Any

import httpx
from support.apiserver import RunningAPI
from support.wait import wait_until

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _version(name: str, *, storage: bool, served: bool = True, **extra: Any) -> dict[str, Any]:
    spec_props: dict[str, Any] = {"size": {"type": "integer"}}
    if name == "v2":
        spec_props["colour"] = {"type": "string", "default": "blue"}
    return {
        "name": name,
        "served": served,
        "storage": storage,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": spec_props}},
            }
        },
        **extra,
    }


GADGETS = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "kind": "Gadget"},
        "versions": [
            _version("v1beta1", storage=False, deprecated=True),
            _version("v1", storage=True),
            _version("v2", storage=False),
            _version("v1alpha1", storage=False, served=False),
        ],
    },
}


def _established(http: httpx.Client) -> bool:
    crd = http.get(f"{CRDS}/gadgets.example.com").json()
    return any(
        c["type"] == "Established" and c["status"] == "True"
        for c in crd.get("status", {}).get("conditions", [])
    )


def _path(version: str, name: str = "") -> str:
    base = f"/apis/example.com/{version}/namespaces/default/gadgets"
    return f"{base}/{name}" if name else base


def test_one_object_is_read_through_every_served_version(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = http.post(CRDS, json=GADGETS)
        assert r.status_code == 201, r.text
        assert r.json()["status"]["storedVersions"] == ["v1"]
        wait_until(lambda: _established(http), message="gadgets never established")

        # discovery: Kubernetes' order, preferred = highest, not the storage version
        group = http.get("/apis/example.com").json()
        assert [v["version"] for v in group["versions"]] == ["v2", "v1", "v1beta1"]
        assert group["preferredVersion"]["version"] == "v2"
        assert http.get("/apis/example.com/v1alpha1").status_code == 404
        assert http.get(_path("v1alpha1")).status_code == 404

        # written through v2: stored as v1, so v2's own field does not survive
        r = http.post(
            _path("v2"),
            json={
                "apiVersion": "example.com/v2",
                "kind": "Gadget",
                "metadata": {"name": "g"},
                "spec": {"size": 3, "colour": "red"},
            },
        )
        assert r.status_code == 201, r.text
        v1 = http.get(_path("v1", "g")).json()
        assert v1["apiVersion"] == "example.com/v1"
        assert v1["spec"] == {"size": 3}
        v2 = http.get(_path("v2", "g")).json()
        assert v2["apiVersion"] == "example.com/v2"
        assert v2["spec"] == {"size": 3, "colour": "blue"}  # defaulted on read
        items = http.get(_path("v2")).json()["items"]
        assert [i["apiVersion"] for i in items] == ["example.com/v2"]

        # a body of another version than the URL's
        r = http.post(
            _path("v1"),
            json={"apiVersion": "example.com/v2", "kind": "Gadget", "metadata": {"name": "h"}},
        )
        assert r.status_code == 400
        assert r.json()["message"] == (
            "the API version in the data (example.com/v2) does not match the expected API "
            "version (example.com/v1)"
        )

        # the deprecated version warns on every request, naming the highest one to use
        r = http.get(_path("v1beta1", "g"))
        assert r.status_code == 200
        assert r.headers["warning"] == (
            '299 - "example.com/v1beta1 Gadget is deprecated; use example.com/v2 Gadget"'
        )
        assert "warning" not in http.get(_path("v1", "g")).headers


def test_a_new_storage_version_is_recorded_and_a_stored_one_cannot_be_dropped(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        assert http.post(CRDS, json=GADGETS).status_code == 201
        wait_until(lambda: _established(http))
        crd = http.get(f"{CRDS}/gadgets.example.com").json()
        versions = crd["spec"]["versions"]
        versions[1]["storage"], versions[2]["storage"] = False, True
        r = http.put(f"{CRDS}/gadgets.example.com", json=crd)
        assert r.status_code == 200, r.text

        def stored() -> list[str] | None:
            got = http.get(f"{CRDS}/gadgets.example.com").json()["status"]["storedVersions"]
            return got if got == ["v1", "v2"] else None

        wait_until(stored, message="v2 never joined storedVersions")
        crd = http.get(f"{CRDS}/gadgets.example.com").json()
        crd["spec"]["versions"] = [v for v in crd["spec"]["versions"] if v["name"] != "v1"]
        r = http.put(f"{CRDS}/gadgets.example.com", json=crd)
        assert r.status_code == 422
        assert "v1 was previously a storage version" in r.json()["message"]
