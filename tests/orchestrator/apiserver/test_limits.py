"""Size limits: request bodies up to 3 MiB, stored objects up to 1.5 MiB, 413 beyond."""

from __future__ import annotations

import json

from support.apiserver import RunningAPI

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MIB = 1024 * 1024


def configmap(name: str, size: int) -> dict:
    """A ConfigMap of about ``size`` bytes, kept in an unknown field (``data`` has its own
    1 MiB limit, a validation rule rather than the store's)."""
    return {"metadata": {"name": name}, "payload": {"blob": "x" * size}}


def test_object_just_under_the_limit_is_stored(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(CONFIGMAPS, json=configmap("big", int(1.4 * MIB)))
    assert r.status_code == 201


def test_object_over_one_and_a_half_mib_is_too_large(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(CONFIGMAPS, json=configmap("big", int(1.6 * MIB)))
        assert r.status_code == 413
        assert r.json()["reason"] == "RequestEntityTooLarge"
        assert http.get(f"{CONFIGMAPS}/big").status_code == 404


def test_body_over_three_mib_is_too_large(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(
            CONFIGMAPS,
            content=json.dumps(configmap("huge", 3 * MIB + 10)),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert r.json()["reason"] == "RequestEntityTooLarge"
        assert http.get(f"{CONFIGMAPS}/huge").status_code == 404


def test_update_and_patch_that_grow_past_the_limit_are_refused(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(CONFIGMAPS, json=configmap("cm", int(1.0 * MIB))).json()
        obj["payload"]["more"] = "y" * int(0.6 * MIB)
        assert http.put(f"{CONFIGMAPS}/cm", json=obj).status_code == 413
        r = http.patch(
            f"{CONFIGMAPS}/cm",
            json={"payload": {"more": "y" * int(0.6 * MIB)}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 413
        stored = http.get(f"{CONFIGMAPS}/cm").json()
    assert "more" not in stored["payload"]
    assert stored["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_configmap_data_over_one_mib_is_invalid(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(
            CONFIGMAPS, json={"metadata": {"name": "cm"}, "data": {"blob": "x" * int(1.1 * MIB)}}
        )
    assert r.status_code == 422


def test_too_large_status_write_is_refused(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(
            "/api/v1/namespaces/default/pods",
            json={"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        )
        r = http.patch(
            "/api/v1/namespaces/default/pods/p/status",
            json={"status": {"message": "z" * int(1.6 * MIB)}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 413
        assert "message" not in http.get("/api/v1/namespaces/default/pods/p").json()["status"]
